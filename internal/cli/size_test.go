package cli

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"4096", 4096},
		{"0", 0},
		{"12GiB", 12 << 30},
		{"12gib", 12 << 30},
		{"12 GiB", 12 << 30},
		{"300KiB", 300 << 10},
		{"1.5GB", 1_500_000_000},
		{"1.5GiB", 3 << 29},
		{"2TB", 2_000_000_000_000},
		{"512MiB", 512 << 20},
		{"100B", 100},
		{"1kB", 1000},
		{"0.5KiB", 512},
		{"1.0001KB", 1000}, // a fraction of a byte rounds down
		{" 7MB ", 7_000_000},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "GiB", "12XB", "12G", "-1", "1e9", "1/2", "1.2.3", ".5GB", "5.GB", "12 GiB extra", "9999999999TiB"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		} else if !strings.Contains(err.Error(), "want a number of bytes") && !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseSize(%q): %v does not say what is expected", in, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 3 << 29: "1.50 GiB", 12 << 30: "12.00 GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
