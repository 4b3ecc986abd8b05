package source

import (
	"context"
	"io"
	"os"
	"os/exec"
	"time"
)

// Runner runs a command; tests inject a fake.
//
// env holds extra NAME=value variables on top of the inherited environment.
// Run returns when the command has exited and its output has been written,
// with a non-nil error for a command that could not start, exited non-zero
// or was stopped because ctx ended.
type Runner interface {
	Run(ctx context.Context, name string, args []string, env []string, stdout, stderr io.Writer) error
}

// ExecRunner runs commands with os/exec, without a shell.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// killGrace is how long Run waits for the output pipes to close after the
// command was killed: a child it left behind may hold them open.
const killGrace = time.Second

// Run implements Runner. When ctx ends the command is killed.
func (ExecRunner) Run(ctx context.Context, name string, args []string, env []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...) // later entries win
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = killGrace
	return cmd.Run()
}
