// Package echotest proves that package httpmw works with the echo web
// framework, against real servers: per-route guards keyed by echo's route
// ("GET /items/:id"), rejections answered before the handlers run,
// handler errors counted by the status echo answers them with, streaming,
// echo's view of the status, and a bounded number of guards for unrouted
// requests. Its example shows the small echo middleware that mounts httpmw
// (echo.WrapMiddleware alone is not enough: echo answers a handler's error
// after the wrapped middleware returned, so the guard never sees it, and
// the answer goes to a writer the middleware no longer owns). It is a
// module of its own so that the root module does not depend on echo; it
// holds tests only.
package echotest
