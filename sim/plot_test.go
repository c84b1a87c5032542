package sim

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

func testSweep(t *testing.T, q Param) Sweep {
	t.Helper()
	cfg := testConfig(seedParams)
	cfg.Trials, cfg.Executions, cfg.Cheaters = 3, 200, 10
	lo, hi := DefaultRange(seedParams, q)
	sw, err := RunSweep(context.Background(), cfg, q, Grid(lo, hi, 5))
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// wellFormed fails the test unless b parses as XML with an <svg> root.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}

func TestWriteSVG(t *testing.T) {
	for _, q := range allParams {
		sw := testSweep(t, q)
		var a, b bytes.Buffer
		if err := WriteSVG(&a, sw); err != nil {
			t.Fatal(err)
		}
		wellFormed(t, a.Bytes())
		svg := a.String()
		for _, want := range []string{
			"simulated mean, 95 % CI", "analytic E = C − p(1−r)(R+S)", "threshold " + q.symbol(),
			q.Label(), "gain per cheated task vs honest (units of C)", "<circle", "<polyline",
		} {
			if !strings.Contains(svg, want) {
				t.Errorf("%s sweep: the plot lacks %q", q, want)
			}
		}
		if err := WriteSVG(&b, sw); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s sweep: two renderings differ (%v)", q, err)
		}
	}
}

func TestWriteSVGThresholdLine(t *testing.T) {
	sw := testSweep(t, ParamP)
	var b bytes.Buffer
	if err := WriteSVG(&b, sw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "p* = 0.101") || !strings.Contains(b.String(), "cheating pays") {
		t.Errorf("the plot lacks the threshold line label p* = 0.101")
	}
	// A critical value outside the range (or infinite) draws no line.
	sw.Critical = math.Inf(1)
	b.Reset()
	if err := WriteSVG(&b, sw); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	if strings.Contains(b.String(), "p* = 0.1") {
		t.Error("an infinite critical value was drawn")
	}
}

func TestWriteSVGEmpty(t *testing.T) {
	if err := WriteSVG(io.Discard, Sweep{Param: ParamP}); err == nil {
		t.Error("an empty sweep was drawn")
	}
}

func TestTicks(t *testing.T) {
	got := ticks(-1.08, 1.1)
	if len(got) < 4 || len(got) > 12 || got[0] < -1.08 || got[len(got)-1] > 1.1 {
		t.Errorf("ticks(-1.08, 1.1) = %v", got)
	}
	if l := tickLabel(-0.5, -1, 1); l != "−0.5" {
		t.Errorf("tickLabel(-0.5) = %q", l)
	}
}
