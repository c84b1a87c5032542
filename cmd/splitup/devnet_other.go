//go:build !linux

package main

import "syscall"

// nodeProcAttr is nil where the OS cannot tie a child's life to its
// parent's; devnet's own shutdown still stops every node.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
