// Command ssetime posts one streamed completion and times the arrival of
// its server-sent events, for bench/pipeline.sh: it prints the rate of the
// events after the SKIP-th (events per second), the time to the first
// event in ms and the number of events. It reads the stream in blocks, so
// the client costs the machine little CPU while the pipeline computes.
//
// usage: ssetime URL BODY [SKIP]
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ssetime:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return fmt.Errorf("usage: ssetime URL BODY [SKIP]")
	}
	skip := 10
	if len(args) == 3 {
		v, err := strconv.Atoi(args[2])
		if err != nil || v < 1 {
			return fmt.Errorf("SKIP %q: want a positive count of events", args[2])
		}
		skip = v
	}
	start := time.Now()
	resp, err := http.Post(args[0], "application/json", bytes.NewBufferString(args[1]))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", args[0], resp.Status)
	}
	var first, atSkip, last time.Time
	n := 0
	sc := bufio.NewScanner(bufio.NewReaderSize(resp.Body, 64<<10))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data:")) || bytes.HasPrefix(line, []byte("data: [DONE]")) {
			continue
		}
		now := time.Now()
		n++
		if n == 1 {
			first = now
		}
		if n == skip {
			atSkip = now
		}
		last = now
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if n <= 2*skip {
		return fmt.Errorf("only %d events streamed", n)
	}
	fmt.Printf("%.1f %.0f %d\n", float64(n-skip)/last.Sub(atSkip).Seconds(), float64(first.Sub(start).Microseconds())/1000, n)
	return nil
}
