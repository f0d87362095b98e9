package simserver

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
)

// scoreRequest is /v1/score's body.
type scoreRequest struct {
	Model         *string         `json:"model"`
	Query         json.RawMessage `json:"query"`
	Items         json.RawMessage `json:"items"`
	LabelTokenIDs []int64         `json:"label_token_ids"`
	ApplySoftmax  bool            `json:"apply_softmax"`
	ItemFirst     bool            `json:"item_first"`
}

// badRequest answers an OpenAI-style 400, as the score endpoint does.
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"object": "error", "message": msg, "type": "BadRequestError", "param": nil, "code": 400,
	})
}

func (s *Server) score(w http.ResponseWriter, r *http.Request) {
	var req scoreRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "Invalid request body: "+err.Error())
		return
	}
	query, items, err := scoreInputs(&req)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	s.stats.running.Add(1)
	defer s.stats.running.Add(-1)
	var prompt int64
	lens := make([]int, len(items))
	for i, it := range items {
		lens[i] = len(query) + len(it)
		prompt += int64(lens[i])
	}
	s.stats.promptTokens.Add(prompt)
	s.forward(prefill, shape{lens: lens})
	scores := make([][]float64, len(items))
	for i, it := range items {
		scores[i] = s.itemScores(query, it, req.LabelTokenIDs, req.ApplySoftmax, req.ItemFirst)
	}
	writeJSON(w, http.StatusOK, ScoreResponse{Scores: scores, Model: *req.Model, Object: "scoring"})
}

// ScoreResponse is /v1/score's answer.
type ScoreResponse struct {
	// Scores holds one score per label for each item.
	Scores [][]float64 `json:"scores"`
	// Model is the request's model.
	Model string `json:"model"`
	// Usage is always null.
	Usage *struct{} `json:"usage"`
	// Object is "scoring".
	Object string `json:"object"`
}

// scoreInputs validates a score request and returns its query and items as
// token ids.
func scoreInputs(req *scoreRequest) ([]int64, [][]int64, error) {
	if req.Model == nil || *req.Model == "" {
		return nil, nil, fmt.Errorf("model is required")
	}
	if len(req.LabelTokenIDs) == 0 {
		return nil, nil, fmt.Errorf("label_token_ids is required and must not be empty")
	}
	for _, id := range req.LabelTokenIDs {
		if id < 0 || id >= VocabSize {
			return nil, nil, fmt.Errorf("Token ID %d is out of vocabulary (vocab size: %d)", id, VocabSize)
		}
	}
	if isNull(req.Query) {
		return nil, nil, fmt.Errorf("query is required")
	}
	if isNull(req.Items) {
		return nil, nil, fmt.Errorf("items is required")
	}
	var qText string
	var qIDs []int64
	var query []int64
	qIsText := json.Unmarshal(req.Query, &qText) == nil
	switch {
	case qIsText:
		query = tokenize(qText)
	case json.Unmarshal(req.Query, &qIDs) == nil:
		query = qIDs
	default:
		return nil, nil, fmt.Errorf("query must be a string or a list of token ids")
	}
	var items [][]int64
	var one string
	var texts []string
	var ids [][]int64
	switch {
	case json.Unmarshal(req.Items, &one) == nil:
		if !qIsText {
			return nil, nil, fmt.Errorf("query and items must both be text or both be token ids")
		}
		items = [][]int64{tokenize(one)}
	case json.Unmarshal(req.Items, &texts) == nil:
		if !qIsText {
			return nil, nil, fmt.Errorf("query and items must both be text or both be token ids")
		}
		for _, t := range texts {
			items = append(items, tokenize(t))
		}
	case json.Unmarshal(req.Items, &ids) == nil:
		if qIsText {
			return nil, nil, fmt.Errorf("query and items must both be text or both be token ids")
		}
		items = ids
	default:
		return nil, nil, fmt.Errorf("items must be a string, a list of strings or a list of token id lists")
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("items must not be empty")
	}
	for _, seq := range append([][]int64{query}, items...) {
		for _, id := range seq {
			if id < 0 || id >= VocabSize {
				return nil, nil, fmt.Errorf("Token ID %d is out of vocabulary (vocab size: %d)", id, VocabSize)
			}
		}
	}
	return query, items, nil
}

func isNull(m json.RawMessage) bool {
	t := strings.TrimSpace(string(m))
	return t == "" || t == "null"
}

// tokenize turns text into pseudo token ids: one per word, below VocabSize.
func tokenize(text string) []int64 {
	var out []int64
	for _, w := range strings.Fields(text) {
		h := fnv.New64a()
		h.Write([]byte(w))
		out = append(out, int64(h.Sum64()%VocabSize))
	}
	return out
}

// itemScores returns one deterministic pseudo score per label: a softmax
// over the labels' logits with applySoftmax, else each label's probability
// over the whole vocabulary.
func (s *Server) itemScores(query, item, labels []int64, applySoftmax, itemFirst bool) []float64 {
	first, second := query, item
	if itemFirst {
		first, second = item, query
	}
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.cfg.Seed)
	h.Write(b[:])
	for _, seq := range [][]int64{first, {-1}, second} {
		for _, id := range seq {
			binary.LittleEndian.PutUint64(b[:], uint64(id))
			h.Write(b[:])
		}
	}
	ctx := h.Sum64()
	logits := make([]float64, len(labels))
	for i, l := range labels {
		x := splitmix(ctx ^ uint64(l)*0x9e3779b97f4a7c15)
		logits[i] = float64(x>>11)/float64(1<<53)*10 - 5
	}
	out := make([]float64, len(labels))
	if !applySoftmax {
		for i, l := range logits {
			out[i] = math.Exp(l - 12)
		}
		return out
	}
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, l)
	}
	var sum float64
	for i, l := range logits {
		out[i] = math.Exp(l - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// splitmix mixes a 64-bit value.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
