// Package chitest proves that package httpmw works with the chi router. It
// is a module of its own so that the root module does not depend on chi;
// it holds tests only.
package chitest
