package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts each event to a Slack incoming webhook, or to any service
// that accepts Slack's incoming-webhook format (Mattermost, Rocket.Chat,
// Discord's /slack endpoint): a `text` line with the title and a link to
// the dashboard, and one attachment, coloured by state, with the state,
// reason, actor, failure rate, incident start and tags as fields. Answers
// are classified as for Webhook, and redirects are handled alike: not
// followed unless Redirects allows same-origin ones.
type Slack struct {
	// URL is the incoming webhook's URL; required. Its path is the
	// webhook's secret: errors and logs show its scheme and host only.
	URL string
	// Channel, Username and IconEmoji override the webhook's defaults
	// where the service allows it; empty leaves them alone.
	Channel   string
	Username  string
	IconEmoji string
	// Client sends the requests; nil means http.DefaultClient (see
	// Webhook.Client and PublicClient).
	Client *http.Client
	// Redirects says which redirects are followed: NoRedirects (the zero
	// value) or SameOriginRedirects.
	Redirects RedirectPolicy
}

func (s *Slack) validate() error {
	if err := validateURL(s.URL); err != nil {
		return err
	}
	return s.Redirects.validate()
}

type slackMessage struct {
	Text        string            `json:"text"`
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	IconEmoji   string            `json:"icon_emoji,omitempty"`
	Attachments []slackAttachment `json:"attachments,omitempty"`
}

type slackAttachment struct {
	Fallback  string       `json:"fallback"`
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Fields    []slackField `json:"fields"`
	Footer    string       `json:"footer,omitempty"`
	Ts        int64        `json:"ts"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Send posts e. A Slack with an invalid field fails permanently without
// sending anything.
func (s *Slack) Send(ctx context.Context, e *Event) error {
	if err := s.validate(); err != nil {
		return Permanent(fmt.Errorf("notify: slack: %w", err))
	}
	m := slackPayload(e)
	m.Channel, m.Username, m.IconEmoji = s.Channel, s.Username, s.IconEmoji
	b, err := json.Marshal(m)
	if err != nil {
		return Permanent(err)
	}
	return post(ctx, s.Client, s.Redirects, s.URL, nil, b)
}

// slackPayload builds the incoming-webhook message for e.
func slackPayload(e *Event) slackMessage {
	title := e.Title()
	text := slackEmoji(e.Type) + " *" + slackEscape(title) + "*"
	if e.DashboardURL != "" {
		text += " <" + e.DashboardURL + "|dashboard>"
	}
	a := slackAttachment{
		Fallback:  title,
		Color:     slackColor(e.Type),
		Title:     title,
		TitleLink: e.DashboardURL,
		Footer:    fmt.Sprintf("breakerbox · rule %s · event %s", e.Rule, e.ID),
		Ts:        e.At.Unix(),
	}
	for _, f := range e.fields() {
		a.Fields = append(a.Fields, slackField{Title: f[0], Value: slackEscape(f[1]), Short: len(f[1]) <= 40})
	}
	return slackMessage{Text: text, Attachments: []slackAttachment{a}}
}

func slackEmoji(k Kind) string {
	switch k {
	case Opened, ForcedOpen:
		return ":red_circle:"
	case HalfOpen:
		return ":large_yellow_circle:"
	case Resolved, Closed:
		return ":large_green_circle:"
	}
	return ":white_circle:"
}

func slackColor(k Kind) string {
	switch k {
	case Opened, ForcedOpen:
		return "#d40e0d"
	case HalfOpen:
		return "#e8a317"
	case Resolved, Closed:
		return "#2eb67d"
	}
	return "#808080"
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
