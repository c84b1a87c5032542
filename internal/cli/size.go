// Package cli holds what the splitup commands share: the subcommand
// dispatcher (usage errors, exit codes) and the syntax of their flags,
// such as byte sizes ("12GiB").
package cli

import (
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits are the accepted size suffixes, case-insensitive: decimal
// (kB = 1000) and binary (KiB = 1024).
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"b", 1},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
}

// SizeHint says what ParseSize accepts.
const SizeHint = "want a number of bytes with an optional unit: 4096, 300KiB, 12GiB, 1.5GB (B, kB, MB, GB, TB = powers of 1000; KiB, MiB, GiB, TiB = powers of 1024)"

// ParseSize reads a byte count like "12GiB", "300KiB", "1.5GB" or "4096".
// A fraction of a byte is rounded down; the result is below 2^62.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult := int64(-1)
	if unit == "" {
		mult = 1
	}
	for _, u := range sizeUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if mult < 0 || !ok || num == "" || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("size %q: %s", s, SizeHint)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if n.BitLen() > 62 {
		return 0, fmt.Errorf("size %q is too large (the limit is 2^62 bytes)", s)
	}
	return n.Int64(), nil
}

// FormatSize writes n bytes with a binary unit: "512 B", "1.50 KiB", "12.00 GiB".
func FormatSize(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	return fmt.Sprintf("%.2f %s", v, units[u])
}
