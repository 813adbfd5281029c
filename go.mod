module github.com/breakerbox/breakerbox

go 1.25
