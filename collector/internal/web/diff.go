package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/diff"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
)

// diffRows bounds each diff table.
const diffRows = 30

// headline is the title of the diff's table of headline figures.
const headline = "Headline figures"

type diffTable struct {
	Title, Key, LabelName string
	HasLabel              bool
	Rows                  []diffRow
	More                  string
}

type diffRow struct {
	Key, Label, A, B, Delta, Pct, Class string
}

func (u *UI) diff(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := struct {
		A, B   string
		Recent []string
		Result bool
		Tables []diffTable
	}{A: strings.TrimSpace(q.Get("a")), B: strings.TrimSpace(q.Get("b"))}
	p := &page{Title: "Diff", Nav: "diff", Data: &data}
	err := u.cfg.Store.View(r.Context(), func(rd *store.Reader) error {
		list, _, err := rd.List(store.Filter{Limit: 100})
		for _, c := range list {
			data.Recent = append(data.Recent, c.ID)
		}
		return err
	})
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	if data.A == "" || data.B == "" {
		u.render(w, http.StatusOK, "diff", p)
		return
	}
	for _, id := range []string{data.A, data.B} {
		if !store.ValidID(id) {
			p.Error = fmt.Sprintf("%q is not a capture id.", id)
			u.render(w, http.StatusBadRequest, "diff", p)
			return
		}
	}
	a, _, errA := analysis.Load(r.Context(), u.cfg.Store, data.A)
	b, _, errB := analysis.Load(r.Context(), u.cfg.Store, data.B)
	if err := errors.Join(errA, errB); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.Error = "No capture has that id: " + notFoundIDs(data.A, errA, data.B, errB) + "."
			u.render(w, http.StatusNotFound, "diff", p)
			return
		}
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	d := diff.Compare(a, b, u.cfg.Rules)
	data.Result = true
	data.Tables = []diffTable{
		table(headline, "Figure", "Unit", d.Summary, true),
		table("Device time by component", "Component", "", d.Components, false),
		table("Device time by op type", "Op type", "", d.OpTypes, false),
		table("Device time by operation", "Operation", "Op type", d.Ops, true),
	}
	u.render(w, http.StatusOK, "diff", p)
}

func notFoundIDs(a string, errA error, b string, errB error) string {
	var ids []string
	if errors.Is(errA, store.ErrNotFound) {
		ids = append(ids, a)
	}
	if errors.Is(errB, store.ErrNotFound) {
		ids = append(ids, b)
	}
	return strings.Join(ids, ", ")
}

func table(title, key, label string, rows []diff.Row, hasLabel bool) diffTable {
	t := diffTable{Title: title, Key: key, LabelName: label, HasLabel: hasLabel}
	for _, r := range rows[:min(len(rows), diffRows)] {
		class := ""
		switch {
		case r.Delta > 0:
			class = "up"
		case r.Delta < 0:
			class = "down"
		}
		unit, shown := "us", r.Label // device op time, unless the row names its unit
		if title == headline {
			unit = r.Label
			if shown == "us" {
				shown = numfmt.Micro
			}
		}
		t.Rows = append(t.Rows, diffRow{
			Key: r.Key, Label: shown, A: numfmt.Value(r.A, unit), B: numfmt.Value(r.B, unit),
			Delta: numfmt.Signed(r.Delta, unit), Pct: numfmt.Change(r.DeltaPct), Class: class,
		})
	}
	if len(rows) > diffRows {
		t.More = fmt.Sprintf("The %d largest changes of %d; `fleetprof diff` lists them all.", diffRows, len(rows))
	}
	return t
}
