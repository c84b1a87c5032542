package wire

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzRequests: any body either fails to decode or translates to a valid
// GenerateRequest or a 400 *Error; nothing panics.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","prompt":"x","max_tokens":3,"stop":["a"],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"temperature":2}`,
		`{"model":"m","prompt":[1,2],"n":2,"top_p":0}`,
		`{"prompt":null,"stop":null,"messages":null}`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{DefaultMaxTokens: 16, DefaultChatMaxTokens: 32, MaxTokens: 100, MaxPromptBytes: 1000}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(g GenerateRequest, err error) {
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 {
					t.Fatalf("error %v is not a 400 *Error", err)
				}
				return
			}
			if g.MaxTokens <= 0 || g.MaxTokens > 100 || g.Temperature < 0 || g.Temperature > 2 || g.TopP <= 0 || g.TopP > 1 ||
				len(g.Prompt) > 1000 || g.Model == "" {
				t.Fatalf("invalid translation %+v", g)
			}
		}
		var c CompletionRequest
		if json.Unmarshal(b, &c) == nil {
			check(FromCompletion(c, lim))
		}
		var ch ChatCompletionRequest
		if json.Unmarshal(b, &ch) == nil {
			check(FromChat(ch, lim))
		}
	})
}
