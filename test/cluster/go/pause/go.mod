// The pause program of the kind node image's sandbox image (pause:3.10.x): our own main.go, since
// the upstream one is C and is not on the Go module proxy.
module kubemcp.test/cluster/pause

go 1.26.0
