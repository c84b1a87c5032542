package tokenizer_test

import (
	"fmt"

	"github.com/splitup/splitup/models/tokenizer"
)

// Merges follow the scores: " h" + "i" becomes " hi". Text that is not in
// the vocabulary falls back to <0xNN> byte tokens when it has them (this toy
// vocabulary has none, so "!" is <unk>).
func ExampleNew() {
	pieces := []string{"<unk>", "<s>", "</s>", " ", "h", "i", " h", " hi"}
	scores := []float32{0, 0, 0, 0, 0, 0, -1, -0.5}
	tok, err := tokenizer.New(pieces, scores, nil, 1, 2)
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("hi!", true, false)
	fmt.Println(ids, tok.VocabSize())
	fmt.Printf("%q\n", tok.DecodeAll(ids))
	// Output:
	// [1 7 0] 8
	// "hi<unk>"
}
