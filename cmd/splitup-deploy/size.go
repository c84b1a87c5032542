package main

import "github.com/splitup/splitup/internal/cli"

// parseSize and formatSize are the shared byte-size syntax of the commands.
var (
	parseSize  = cli.ParseSize
	formatSize = cli.FormatSize
)
