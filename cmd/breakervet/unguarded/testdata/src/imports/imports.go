package imports

import (
	"net/http"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
)

var reg *core.Registry

func clients() {
	_ = &http.Client{}  // want `http.Client has no Transport`
	grpc.NewClient("x") // want `grpc.NewClient creates a client`
}
