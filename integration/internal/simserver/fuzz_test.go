package simserver

import (
	"encoding/json"
	"testing"
)

// FuzzScoreInputs feeds arbitrary bodies to the /v1/score validation: it
// never panics, and what it accepts is inside the vocabulary.
func FuzzScoreInputs(f *testing.F) {
	f.Add([]byte(`{"model":"m","query":"Is this positive?","items":["Great product!","Terrible experience"],"label_token_ids":[9834,902],"apply_softmax":true}`))
	f.Add([]byte(`{"model":"m","query":[1,2],"items":[[3],[151935]],"label_token_ids":[0]}`))
	f.Add([]byte(`{"model":"m","query":"q","items":"one","label_token_ids":[151936]}`))
	f.Add([]byte(`{"query":null,"items":[[]],"label_token_ids":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req scoreRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		query, items, err := scoreInputs(&req)
		if err != nil {
			return
		}
		if len(items) == 0 || len(req.LabelTokenIDs) == 0 {
			t.Fatalf("accepted %s with %d items and %d labels", body, len(items), len(req.LabelTokenIDs))
		}
		for _, seq := range append([][]int64{query, req.LabelTokenIDs}, items...) {
			for _, id := range seq {
				if id < 0 || id >= VocabSize {
					t.Fatalf("accepted token %d of %s", id, body)
				}
			}
		}
	})
}
