module github.com/breakerbox/breakerbox/notify/internal/smtptest

go 1.25

replace github.com/breakerbox/breakerbox => ../../..

require github.com/breakerbox/breakerbox v0.0.0-00010101000000-000000000000
