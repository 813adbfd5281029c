// Package smtptest holds the test of notify's Email channel against a real
// SMTP server, mailpit (github.com/axllent/mailpit), which .ci/run installs
// as a binary. It is a module of its own only so that the root module's
// tests never need an external program; it has no Go dependency besides
// the root module. The test starts mailpit on loopback ports with STARTTLS
// (a certificate the test makes) and an authentication file, sends through
// a notifier, and reads the message back through mailpit's HTTP API. When
// CI=true a missing mailpit binary fails the test instead of skipping it.
package smtptest
