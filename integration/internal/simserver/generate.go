package simserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Bounds of /generate.
const (
	// defaultMaxNewTokens is sglang's default sampling_params.max_new_tokens.
	defaultMaxNewTokens = 128
	// maxMaxNewTokens bounds max_new_tokens, so a request stays short.
	maxMaxNewTokens = 2048
)

// generateRequest is /generate's body.
type generateRequest struct {
	Text           json.RawMessage `json:"text"`
	InputIDs       json.RawMessage `json:"input_ids"`
	SamplingParams struct {
		MaxNewTokens *int `json:"max_new_tokens"`
	} `json:"sampling_params"`
	Stream bool `json:"stream"`
}

// genError answers a /generate error as sglang does.
func genError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": msg}})
}

// words spell generated tokens.
var words = strings.Fields(`the model is a small language model that answers questions about
profiles traces devices and hosts with care it runs on a tensor processing unit and
its scheduler waits for requests between bursts of work`)

func (s *Server) generate(w http.ResponseWriter, r *http.Request) {
	var req generateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		genError(w, "Invalid request body: "+err.Error())
		return
	}
	prompts, batched, err := generateInputs(&req)
	if err != nil {
		genError(w, err.Error())
		return
	}
	n := defaultMaxNewTokens
	if p := req.SamplingParams.MaxNewTokens; p != nil {
		n = *p
	}
	if n < 0 || n > maxMaxNewTokens {
		genError(w, fmt.Sprintf("max_new_tokens must be in [0, %d], got %d", maxMaxNewTokens, n))
		return
	}
	s.stats.running.Add(int64(len(prompts)))
	defer s.stats.running.Add(-int64(len(prompts)))
	start := time.Now()
	outs := make([]*genOutput, len(prompts))
	for i, p := range prompts {
		outs[i] = &genOutput{id: s.requestID(), prompt: p}
		s.stats.promptTokens.Add(int64(len(p)))
	}
	var flusher http.Flusher
	if req.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		flusher, _ = w.(http.Flusher)
	}
	ctx := r.Context()
	lens := make([]int, len(prompts))
	for i, p := range prompts {
		lens[i] = len(p)
	}
	s.forward(prefill, shape{lens: lens})
	for step := range n {
		if ctx.Err() != nil {
			return // the client went away: abort, as sglang does
		}
		ctxs := make([]int, len(prompts))
		for i, p := range prompts {
			ctxs[i] = len(p) + step
		}
		s.forward(decode, shape{lens: ctxs})
		for _, o := range outs {
			o.ids = append(o.ids, s.nextToken(o.prompt, step))
		}
		s.stats.genTokens.Add(int64(len(prompts)))
		if req.Stream {
			for _, o := range outs {
				b, _ := json.Marshal(o.answer(time.Since(start), step+1 == n, n))
				fmt.Fprintf(w, "data: %s\n\n", b)
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	if req.Stream {
		if n == 0 {
			for _, o := range outs {
				b, _ := json.Marshal(o.answer(time.Since(start), true, n))
				fmt.Fprintf(w, "data: %s\n\n", b)
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	if !batched {
		writeJSON(w, http.StatusOK, outs[0].answer(time.Since(start), true, n))
		return
	}
	all := make([]GenerateResponse, len(outs))
	for i, o := range outs {
		all[i] = o.answer(time.Since(start), true, n)
	}
	writeJSON(w, http.StatusOK, all)
}

// generateInputs returns the prompts as token ids and whether the request
// was a batch.
func generateInputs(req *generateRequest) ([][]int64, bool, error) {
	hasText, hasIDs := !isNull(req.Text), !isNull(req.InputIDs)
	if hasText == hasIDs {
		return nil, false, fmt.Errorf("Either text or input_ids should be provided.")
	}
	if hasText {
		var one string
		var many []string
		switch {
		case json.Unmarshal(req.Text, &one) == nil:
			return [][]int64{tokenize(one)}, false, nil
		case json.Unmarshal(req.Text, &many) == nil && len(many) > 0:
			out := make([][]int64, len(many))
			for i, t := range many {
				out[i] = tokenize(t)
			}
			return out, true, nil
		}
		return nil, false, fmt.Errorf("text must be a string or a non-empty list of strings")
	}
	var one []int64
	var many [][]int64
	var out [][]int64
	batched := false
	switch {
	case json.Unmarshal(req.InputIDs, &one) == nil:
		out = [][]int64{one}
	case json.Unmarshal(req.InputIDs, &many) == nil && len(many) > 0:
		out, batched = many, true
	default:
		return nil, false, fmt.Errorf("input_ids must be a list of token ids or a non-empty list of such lists")
	}
	for _, p := range out {
		for _, id := range p {
			if id < 0 || id >= VocabSize {
				return nil, false, fmt.Errorf("The input_ids %d contains values greater than the vocab size (%d).", id, VocabSize)
			}
		}
	}
	return out, batched, nil
}

// genOutput is one prompt's generation so far.
type genOutput struct {
	id     string
	prompt []int64
	ids    []int64
}

// GenerateResponse is /generate's answer for one prompt (and each
// streamed chunk).
type GenerateResponse struct {
	// Text is the generated text so far.
	Text string `json:"text"`
	// OutputIDs are the generated token ids so far.
	OutputIDs []int64 `json:"output_ids"`
	// MetaInfo describes the request.
	MetaInfo MetaInfo `json:"meta_info"`
}

// MetaInfo is a /generate answer's meta_info.
type MetaInfo struct {
	// ID is the request's id, 32 hex digits.
	ID string `json:"id"`
	// FinishReason is {"type":"length","length":N} once done, else null.
	FinishReason *FinishReason `json:"finish_reason"`
	// PromptTokens counts the prompt's tokens.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens counts the tokens generated so far.
	CompletionTokens int `json:"completion_tokens"`
	// CachedTokens is always 0.
	CachedTokens int `json:"cached_tokens"`
	// E2ELatency is the time since the request arrived, in seconds.
	E2ELatency float64 `json:"e2e_latency"`
}

// FinishReason says why generation stopped.
type FinishReason struct {
	// Type is "length": the simulated model never stops early.
	Type string `json:"type"`
	// Length is max_new_tokens.
	Length int `json:"length"`
}

// answer is /generate's answer for one prompt.
func (o *genOutput) answer(elapsed time.Duration, done bool, maxNew int) GenerateResponse {
	var text strings.Builder
	for _, id := range o.ids {
		text.WriteByte(' ')
		text.WriteString(words[id%int64(len(words))])
	}
	var finish *FinishReason
	if done {
		finish = &FinishReason{Type: "length", Length: maxNew}
	}
	ids := o.ids
	if ids == nil {
		ids = []int64{}
	}
	return GenerateResponse{
		Text:      text.String(),
		OutputIDs: ids,
		MetaInfo: MetaInfo{
			ID:               o.id,
			FinishReason:     finish,
			PromptTokens:     len(o.prompt),
			CompletionTokens: len(o.ids),
			E2ELatency:       elapsed.Seconds(),
		},
	}
}

// nextToken returns the pseudo token a prompt generates at a step.
func (s *Server) nextToken(prompt []int64, step int) int64 {
	x := s.cfg.Seed ^ uint64(step)*0x9e3779b97f4a7c15
	for _, id := range prompt {
		x = splitmix(x ^ uint64(id))
	}
	return int64(splitmix(x) % VocabSize)
}

// requestID returns a fresh request id, 32 hex digits like sglang's.
func (s *Server) requestID() string {
	n := s.reqs.Add(1)
	return fmt.Sprintf("%016x%016x", splitmix(s.cfg.Seed^uint64(n)), uint64(n))
}
