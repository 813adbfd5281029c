// Package dashboard is the end-to-end test of breakerbox's live dashboard
// (package admin): a real admin server over a registry of 200 guards under
// synthetic load, driven by a headless Chromium through chromedp. It is a
// module of its own so that the root module never requires chromedp.
// TestDashboardPoliciesAndVariants drives the Policies view (live version,
// history, rendered docs, rollback with a write token) and the variants
// panel against an admin server with a policy.Manager.
//
// The test needs Chromium at /usr/bin/chromium (Debian's package, which
// .ci/run installs) or at $BREAKERBOX_CHROMIUM; without it the test is
// skipped, except under CI=true, where it fails. Save the screenshot of
// the dashboard for the README with
//
//	go test -run TestDashboard -screenshot ../../docs/dashboard.png
//
// (without -race, under which the scene builds only the last quarter of
// its hour of history, to keep the test quick).
//
// Serve the scene for a look in a browser with
//
//	go test -run TestServeScene -serve
package dashboard
