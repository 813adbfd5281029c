// Package plain has one guarded method that returns only an error, without
// fallbacks or timeouts: the generated file imports only what it uses.
package plain

// Pinger has one guarded method.
type Pinger interface {
	//breakerbox:guard name=plain.ping ctx=background
	Ping() error
	Name() string
	Reset()
}
