package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Experiments is what the experiment pages need of the experiment runner.
type Experiments interface {
	// List returns up to limit experiments, newest first.
	List(ctx context.Context, limit int) ([]store.Experiment, error)
	// Get returns an experiment.
	Get(ctx context.Context, id string) (*store.Experiment, error)
}

// experimentPages are the templates of the experiment pages.
var experimentPages = []string{"experiments", "experiment"}

// experimentRoutes are the experiment pages' routes; none without
// Experiments.
func (u *UI) experimentRoutes() []route {
	if u.cfg.Experiments == nil {
		return nil
	}
	return []route{
		{"GET /experiments", u.experiments},
		{"GET /experiments/{id}", u.experiment},
	}
}

// experimentRow is one experiment in the list.
type experimentRow struct {
	ID, Name, Created, Status, Message, Params, Endpoints string
	Cells                                                 int
}

func (u *UI) experiments(w http.ResponseWriter, r *http.Request) {
	list, err := u.cfg.Experiments.List(r.Context(), 200)
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	var rows []experimentRow
	running := false
	for _, e := range list {
		row := experimentRow{ID: e.ID, Created: utc(time.Unix(0, e.CreatedNS)), Status: e.Status, Message: e.Message, Cells: len(e.Cells)}
		params, eps := map[string]bool{}, []string{}
		for _, c := range e.Cells {
			for k := range c.Params {
				params[k] = true
			}
			if !slices.Contains(eps, c.Endpoint) {
				eps = append(eps, c.Endpoint)
			}
		}
		for _, k := range []string{experiment.ParamInputLen, experiment.ParamBatch} {
			if params[k] {
				row.Params = strings.TrimSpace(row.Params + " " + k)
			}
		}
		row.Endpoints = strings.Join(eps, " ")
		var spec collectorv1.ExperimentSpec
		if proto.Unmarshal(e.Spec, &spec) == nil {
			row.Name = spec.GetName()
		}
		running = running || e.Status == store.ExperimentRunning
		rows = append(rows, row)
	}
	p := &page{Title: "Experiments", Nav: "experiments", Data: rows}
	if running {
		p.Refresh = 5
	}
	u.render(w, http.StatusOK, "experiments", p)
}

func (u *UI) experiment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !store.ValidID(id) {
		u.notFound(w, r, "No experiment has that id.")
		return
	}
	e, err := u.cfg.Experiments.Get(r.Context(), id)
	if errors.Is(err, experiment.ErrNotFound) || errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("No experiment has the id %q.", id))
		return
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	rep, err := experiment.Build(r.Context(), u.cfg.Store, e)
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	type cellRow struct {
		N                        int
		Endpoint, Params, Status string
		Message                  string
		Captures                 []string
	}
	data := struct {
		ID, Name, Status, Message, Created string
		Cells                              []cellRow
		Body                               template.HTML
	}{ID: e.ID, Name: rep.Name, Status: e.Status, Message: e.Message, Created: utc(time.Unix(0, e.CreatedNS)),
		Body: template.HTML(experiment.HTMLBody(rep))} // HTMLBody escapes every text it writes
	for i, c := range e.Cells {
		var ps []string
		for _, k := range []string{experiment.ParamInputLen, experiment.ParamBatch} {
			if v, ok := c.Params[k]; ok {
				ps = append(ps, fmt.Sprintf("%s=%d", k, v))
			}
		}
		data.Cells = append(data.Cells, cellRow{N: i + 1, Endpoint: c.Endpoint, Params: strings.Join(ps, " "), Status: c.Status, Message: c.Message, Captures: c.CaptureIDs})
	}
	p := &page{Title: id, Nav: "experiments", Data: &data}
	if e.Status == store.ExperimentRunning {
		p.Refresh = 5
	}
	u.render(w, http.StatusOK, "experiment", p)
}
