//go:build !linux

package e2e

import "syscall"

// childAttr has nothing to add outside Linux; Cleanup stops the children.
func childAttr() *syscall.SysProcAttr { return nil }
