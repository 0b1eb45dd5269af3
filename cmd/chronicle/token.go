package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// token manages API tokens on a running node, over its API, with the
// admin token:
//
//	chronicle token create --name NAME --role admin|writer|reader [--apps a,b]
//	chronicle token list
//	chronicle token revoke ID
func token(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: give create, list or revoke (chronicle token create -h)")
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "http://127.0.0.1:8080", "URL of any node's API (https:// for a TLS cluster)")
	tokenFile := fs.String("admin-token-file", os.Getenv("CHRONICLE_ADMIN_TOKEN_FILE"), "file holding the admin token (env CHRONICLE_ADMIN_TOKEN_FILE)")
	caFile := fs.String("tls-ca", os.Getenv("CHRONICLE_TLS_CA"), "PEM CA the node's certificate is signed by (env CHRONICLE_TLS_CA)")
	var name, role, apps string
	switch verb {
	case "create":
		fs.StringVar(&name, "name", "", "what the token is for (shown in lists and the audit log)")
		fs.StringVar(&role, "role", "writer", "admin, writer or reader")
		fs.StringVar(&apps, "apps", "", "comma-separated apps the token is limited to (default: every app)")
	case "list", "revoke":
	default:
		return fmt.Errorf("token: unknown action %q: give create, list or revoke", verb)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	c, err := newAdminClient(*addr, *tokenFile, *caFile)
	if err != nil {
		return err
	}
	switch verb {
	case "create":
		body := map[string]any{"name": name, "role": role}
		if apps != "" {
			body["apps"] = strings.Split(apps, ",")
		}
		var out struct{ ID, Token string }
		if err := c.do("POST", "/auth/tokens", body, http.StatusCreated, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id:    %s\ntoken: %s\n", out.ID, out.Token)
		fmt.Fprintln(stderr, "The token is shown this once: only its hash is kept.")
		return nil
	case "list":
		var out struct {
			Tokens []struct {
				ID, Name, Role, IssuedAt, IssuedBy, RevokedAt string
				Apps                                          []string
			}
		}
		if err := c.do("GET", "/auth/tokens", nil, http.StatusOK, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tAPPS\tISSUED\tBY\tREVOKED")
		for _, t := range out.Tokens {
			scope := strings.Join(t.Apps, ",")
			if scope == "" {
				scope = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, scope, t.IssuedAt, t.IssuedBy, t.RevokedAt)
		}
		return tw.Flush()
	default: // revoke
		if fs.NArg() != 1 {
			return errors.New("token revoke: give the token's id (chronicle token list shows them)")
		}
		if err := c.do("DELETE", "/auth/tokens/"+fs.Arg(0), nil, http.StatusNoContent, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
}

// adminClient calls a node's API with the admin token.
type adminClient struct {
	base, token string
	http        *http.Client
}

func newAdminClient(addr, tokenFile, caFile string) (*adminClient, error) {
	if tokenFile == "" {
		return nil, errors.New("--admin-token-file (or CHRONICLE_ADMIN_TOKEN_FILE) is required")
	}
	secret, err := readSecretFile("--admin-token-file", tokenFile)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &adminClient{base: strings.TrimRight(addr, "/"), token: secret,
		http: &http.Client{Transport: tr, Timeout: 15 * time.Second}}, nil
}

// do sends body as JSON and decodes the answer into out, or returns the
// API's message when the status is not want.
func (c *adminClient) do(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", c.base, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if res.StatusCode != want {
		var e struct {
			Status struct{ StatusMessage string }
		}
		if json.Unmarshal(raw, &e) == nil && e.Status.StatusMessage != "" {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, res.StatusCode, e.Status.StatusMessage)
		}
		return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: answer is not what a Chronicle node sends: %w", method, path, err)
		}
	}
	return nil
}
