package a

import "net/http"

func ignored() {
	//breakervet:ignore health probe of a local sidecar, never overloaded
	http.Get("http://localhost/health")
	http.Get("http://localhost/health") //breakervet:ignore same line works too

	//breakervet:ignore // want `breakervet:ignore needs a reason`
	http.Get("http://x") // want `http.Get sends through`
}
