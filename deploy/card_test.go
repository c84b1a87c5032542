package deploy_test

import (
	"bytes"
	"testing"

	"github.com/splitup/splitup/deploy"
)

// FuzzDecodeCard checks that DecodeCard never panics and accepts only
// canonical encodings: whatever it accepts re-encodes to the same bytes.
func FuzzDecodeCard(f *testing.F) {
	f.Add([]byte(`{"format":"splitup-model-card","version":1,"name":"m","model_id":"` + zeros + `","graph_hash":"` + zeros + `","config":{"dim":8,"hidden_dim":8,"n_layers":1,"n_heads":2,"n_kv_heads":2,"vocab_size":4}}`))
	f.Add([]byte(`{"format":"splitup-model-card","version":2}`))
	f.Add([]byte(`{"format":"splitup-model-card","version":1,"tokenizer":"AAAA","bos":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := deploy.DecodeCard(b)
		if err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted %q, re-encodes to %q (%v)", b, out, err)
		}
		_, _ = c.ParseTokenizer() // must not panic on any accepted card
	})
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// TestDecodeCardRejects checks the format, version and canonical-form rules.
func TestDecodeCardRejects(t *testing.T) {
	for _, b := range []string{
		`{"format":"other","version":1}`,
		`{"format":"splitup-model-card","version":2}`,
		`{"format": "splitup-model-card","version":1}`,
		`{"format":"splitup-model-card","version":1,"extra":0}`,
		``,
	} {
		if _, err := deploy.DecodeCard([]byte(b)); err == nil {
			t.Errorf("DecodeCard(%q) accepted", b)
		}
	}
}
