module github.com/breakerbox/breakerbox/e2e/dashboard

go 1.26.0

require (
	github.com/breakerbox/breakerbox v0.0.0
	github.com/breakerbox/breakerbox/maintenance v0.0.0
	github.com/chromedp/chromedp v0.24.0
)

require (
	github.com/chromedp/cdproto v0.160.8 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
)

replace github.com/breakerbox/breakerbox => ../..

replace github.com/breakerbox/breakerbox/maintenance => ../../maintenance
