package experiment

import (
	"bytes"
	"encoding/json"
	"strings"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Cell is one cell of an experiment: parameter values on an endpoint, and
// the workload that sends them.
type Cell struct {
	// Params are the varied parameters' values.
	Params map[string]int64
	// Endpoint is the endpoint.
	Endpoint string
	// Workload is what the cell's capture sends.
	Workload *agentv1.Workload
}

// seq is a query, prompt or item: text (split in words) or token ids.
type seq struct {
	text  []string // words, when the sequence is text
	ids   []int64  // token ids otherwise
	isIDs bool
}

func (s seq) len() int {
	if s.isIDs {
		return len(s.ids)
	}
	return len(s.text)
}

// resize repeats or cuts the sequence to n tokens (ids) or words (text).
func (s seq) resize(n int) seq {
	out := seq{isIDs: s.isIDs}
	for i := range n {
		if s.isIDs {
			out.ids = append(out.ids, s.ids[i%len(s.ids)])
		} else {
			out.text = append(out.text, s.text[i%len(s.text)])
		}
	}
	return out
}

// value is the sequence as JSON: a string or a list of ids.
func (s seq) value() any {
	if s.isIDs {
		return s.ids
	}
	return strings.Join(s.text, " ")
}

// join appends t to s (both text or both ids).
func (s seq) join(t seq) seq {
	if s.isIDs {
		return seq{isIDs: true, ids: append(append([]int64{}, s.ids...), t.ids...)}
	}
	return seq{text: append(append([]string{}, s.text...), t.text...)}
}

// Body is an experiment's request body, parsed: a /v1/score body (query and
// items) or a /generate body (text or input_ids). Fields it does not change
// (model, label_token_ids, sampling_params, ...) are kept as they are.
type Body struct {
	fields map[string]json.RawMessage
	score  bool
	query  seq   // the score query, or the generate prompt
	items  []seq // score items
}

// ParseBody reads a body; ErrBadSpec names what is wrong with it.
func ParseBody(b []byte) (*Body, error) {
	var fields map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil || fields == nil {
		return nil, bad("workload body is not a JSON object")
	}
	out := &Body{fields: fields}
	has := func(k string) bool { v, ok := fields[k]; return ok && string(v) != "null" }
	switch {
	case has("query") && has("items"):
		out.score = true
		q, err := parseSeq(fields["query"], "query")
		if err != nil {
			return nil, err
		}
		out.query = q
		items, err := parseItems(fields["items"])
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.isIDs != q.isIDs {
				return nil, bad("workload body: query and items must both be text or both be token ids")
			}
		}
		out.items = items
	case has("text"):
		q, err := parseSeqOrFirst(fields["text"], "text", false)
		if err != nil {
			return nil, err
		}
		out.query = q
	case has("input_ids"):
		q, err := parseSeqOrFirst(fields["input_ids"], "input_ids", true)
		if err != nil {
			return nil, err
		}
		out.query = q
	default:
		return nil, bad("workload body is neither a /v1/score body (query and items) nor a /generate body (text or input_ids)")
	}
	if out.query.len() == 0 {
		return nil, bad("workload body: the query or prompt is empty, so its length cannot be varied")
	}
	return out, nil
}

// parseSeq reads a string or a list of token ids.
func parseSeq(v json.RawMessage, field string) (seq, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return seq{text: strings.Fields(s)}, nil
	}
	var ids []int64
	if json.Unmarshal(v, &ids) == nil {
		return seq{isIDs: true, ids: ids}, nil
	}
	return seq{}, bad("workload body: %s must be a string or a list of token ids", field)
}

// parseSeqOrFirst reads a sequence, or the first of a list of them (a
// batched /generate body); ids says it must be token ids, else text.
func parseSeqOrFirst(v json.RawMessage, field string, ids bool) (seq, error) {
	ok := func(s seq, err error) bool { return err == nil && s.isIDs == ids }
	if s, err := parseSeq(v, field); ok(s, err) {
		return s, nil
	}
	var many []json.RawMessage
	if json.Unmarshal(v, &many) == nil && len(many) > 0 {
		if s, err := parseSeq(many[0], field); ok(s, err) {
			return s, nil
		}
	}
	return seq{}, bad("workload body: %s must be a prompt, token ids or a non-empty list of them", field)
}

// parseItems reads score items: a string, a list of strings or a list of
// token id lists.
func parseItems(v json.RawMessage) ([]seq, error) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []seq{{text: strings.Fields(one)}}, nil
	}
	var many []json.RawMessage
	if json.Unmarshal(v, &many) != nil || len(many) == 0 {
		return nil, bad("workload body: items must be a string or a non-empty list")
	}
	out := make([]seq, len(many))
	for i, m := range many {
		s, err := parseSeq(m, "items")
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// Endpoint is the endpoint the body is for.
func (b *Body) Endpoint() string {
	if b.score {
		return EndpointScore
	}
	return EndpointGenerate
}

// Workload builds a cell's workload: the body for ep with the cell's
// parameters, sent warmups times (0 means 1, negative none) before
// profiling and repeat rounds (0 means 1) while profiling.
//
//   - input_len repeats or cuts the query (/v1/score) or prompt (/generate)
//     to that many tokens, or words for text;
//   - batch repeats or cuts a /v1/score body's items to that many; for
//     /generate it is that many requests in flight at once, each round
//     sending batch requests;
//   - a /generate request built from a /v1/score body prompts with the
//     query followed by the first item, and asks for one new token unless
//     the body has sampling_params: both endpoints then run the same
//     prefill. A /generate body cannot make /v1/score requests (it has no
//     items or labels).
func (b *Body) Workload(ep string, params map[string]int64, repeat, warmups int32) (*agentv1.Workload, error) {
	if repeat <= 0 {
		repeat = 1
	}
	switch {
	case warmups == 0:
		warmups = 1
	case warmups < 0:
		warmups = 0
	}
	query := b.query
	if n, ok := params[ParamInputLen]; ok {
		query = query.resize(int(n))
	}
	batch := int64(0)
	if n, ok := params[ParamBatch]; ok {
		batch = n
	}
	fields := make(map[string]any, len(b.fields)+2)
	for k, v := range b.fields {
		fields[k] = v
	}
	w := &agentv1.Workload{Endpoint: ep, Warmups: warmups, Requests: repeat, Concurrency: 1}
	switch {
	case ep == EndpointScore && !b.score:
		return nil, bad("a /generate body cannot make /v1/score requests: give a /v1/score body (query, items, label_token_ids, model)")
	case ep == EndpointScore:
		items := b.items
		if batch > 0 {
			items = make([]seq, batch)
			for i := range items {
				items[i] = b.items[i%len(b.items)]
			}
		}
		vals := make([]any, len(items))
		for i, it := range items {
			vals[i] = it.value()
		}
		fields["query"], fields["items"] = query.value(), vals
	default:
		prompt := query
		if b.score {
			prompt = query.join(b.items[0])
			for _, k := range []string{"query", "items", "label_token_ids", "apply_softmax", "item_first"} {
				delete(fields, k)
			}
			if _, ok := fields["sampling_params"]; !ok {
				fields["sampling_params"] = map[string]any{"max_new_tokens": 1}
			}
		}
		delete(fields, "text")
		delete(fields, "input_ids")
		if prompt.isIDs {
			fields["input_ids"] = prompt.value()
		} else {
			fields["text"] = prompt.value()
		}
		if batch > 0 {
			if int64(repeat)*batch > MaxRequests {
				return nil, bad("repeat %d × batch %d is %d /generate requests per cell, over %d", repeat, batch, int64(repeat)*batch, MaxRequests)
			}
			w.Concurrency = int32(batch)
			w.Requests = repeat * int32(batch)
		}
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, bad("build the body: %v", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, bad("a cell's body is %d bytes, over %d: lower input_len or batch", len(body), MaxBodyBytes)
	}
	w.Body = body
	return w, nil
}
