// Package gintest proves that package httpmw works with the gin web
// framework, against real servers: per-route guards keyed by gin's route
// ("GET /items/:id"), rejections answered before the handlers run,
// streaming, gin's view of the status, and a bounded number of guards for
// unrouted requests. Its example shows the small gin middleware that mounts
// httpmw. It is a module of its own so that the root module does not depend
// on gin; it holds tests only.
package gintest
