package testserver

//go:generate go run github.com/99designs/gqlgen generate
