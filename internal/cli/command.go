package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Command is one subcommand of a program. Name may have two words
// ("chain init"); Run receives the arguments after the name.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// UsageError marks an error caused by bad command-line use (exit code 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, a ...any) error { return UsageError{fmt.Sprintf(format, a...)} }

// ErrHelp is returned by a subcommand that printed its help on request.
var ErrHelp = errors.New("help requested")

// Main runs prog's commands on os.Args with a context that ends on SIGINT
// or SIGTERM, and exits with Run's code.
func Main(prog string, cmds []Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, prog, cmds, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run dispatches args to the command whose name they start with (the
// longest match) and returns the exit code: 0 on success or help, 1 on a
// failure, 2 on bad use. Errors print as "prog: error: …" with a hint.
func Run(ctx context.Context, prog string, cmds []Command, args []string, stdout, stderr io.Writer) int {
	cmd, rest := lookup(cmds, args)
	if cmd == nil {
		printUsage(stderr, prog, cmds)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		fmt.Fprintf(stderr, "%s: error: unknown command %q; run '%s help' for the list\n", prog, strings.Join(args, " "), prog)
		return 2
	}
	err := cmd.Run(ctx, rest, stdout, stderr)
	if err == nil || errors.Is(err, ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: error: %v\n", prog, err)
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "run '%s %s -h' for usage\n", prog, cmd.Name)
		return 2
	}
	return 1
}

func lookup(cmds []Command, args []string) (*Command, []string) {
	sorted := append([]Command(nil), cmds...)
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i].Name) > len(sorted[j].Name) })
	for i := range sorted {
		words := strings.Fields(sorted[i].Name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == sorted[i].Name {
			return &sorted[i], args[len(words):]
		}
	}
	return nil, nil
}

func printUsage(w io.Writer, prog string, cmds []Command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
}
