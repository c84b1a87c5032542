package cli

import (
	"errors"
	"flag"
	"io"
)

// ParseFlags parses args into fs. A bad flag comes back as a UsageError
// without fs printing it and its usage first, so that the program says it
// once (Run's error line and its hint); -h prints fs's usage and returns
// ErrHelp.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		} else {
			fs.PrintDefaults()
		}
		return ErrHelp
	case err != nil:
		return UsageError{err.Error()}
	}
	return nil
}
