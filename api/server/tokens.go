package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// Scopes an API token may hold. Each route of the TCP listener needs one
// (scopeOf); the Unix socket, reachable only by the gateway's user, needs
// none.
const (
	ScopeRead        = "read"         // status, catalog, schemas, the policy in force
	ScopePublish     = "publish"      // publish, retract, register schemas
	ScopeFetch       = "fetch"        // fetch, and stop a fetch
	ScopePolicyAdmin = "policy-admin" // reload and explain policies
	ScopeRosterAdmin = "roster-admin" // reload the roster
	ScopeMetrics     = "metrics"      // GET /metrics
)

// Scopes lists every scope.
var Scopes = []string{ScopeRead, ScopePublish, ScopeFetch, ScopePolicyAdmin, ScopeRosterAdmin, ScopeMetrics}

// tokenPrefix starts every token, so that one pasted where it should not
// be is recognised (as secret scanners do for cloud keys).
const tokenPrefix = "cvn_"

// Token is an API token as the gateway keeps it: its name, the SHA-256 of
// its secret (never the secret), its scopes and its life.
type Token struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked bool      `json:"revoked,omitempty"`
}

// Allows reports whether the token holds scope.
func (t *Token) Allows(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Errors of token checks.
var (
	ErrNoToken  = errors.New("no valid API token")
	ErrBadScope = errors.New("the token does not hold the scope")
)

var tokenName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Tokens is the token file of a data directory (DIR/api-tokens.json,
// mode 0600). The gateway reads it again when it changes, so that tokens
// created or revoked by the CLI apply at once.
type Tokens struct {
	path string

	mu     sync.Mutex
	mod    time.Time
	size   int64
	tokens []Token
}

// OpenTokens returns the token file at path (which need not exist yet).
func OpenTokens(path string) *Tokens { return &Tokens{path: path} }

// load reads the file if it changed; a missing file holds no tokens.
func (ts *Tokens) load() error {
	fi, err := os.Stat(ts.path)
	if errors.Is(err, os.ErrNotExist) {
		ts.tokens, ts.mod, ts.size = nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return err
	}
	if fi.ModTime().Equal(ts.mod) && fi.Size() == ts.size && ts.tokens != nil {
		return nil
	}
	data, err := os.ReadFile(ts.path)
	if err != nil {
		return err
	}
	var tokens []Token
	if err := json.Unmarshal(data, &tokens); err != nil {
		return fmt.Errorf("%s: %w", ts.path, err)
	}
	ts.tokens, ts.mod, ts.size = tokens, fi.ModTime(), fi.Size()
	return nil
}

func (ts *Tokens) save() error {
	data, err := json.MarshalIndent(ts.tokens, "", "  ")
	if err != nil {
		return err
	}
	ts.mod = time.Time{} // read back on next use
	return atomicfile.Write(ts.path, append(data, '\n'), 0o600)
}

// Create makes a token and returns its secret, which is shown once and
// kept nowhere.
func (ts *Tokens) Create(name string, scopes []string, ttl time.Duration, now time.Time) (string, *Token, error) {
	if !tokenName.MatchString(name) {
		return "", nil, fmt.Errorf("name %q: use [a-z0-9][a-z0-9._-]{0,62}", name)
	}
	if len(scopes) == 0 {
		return "", nil, fmt.Errorf("give at least one scope (%s)", strings.Join(Scopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return "", nil, fmt.Errorf("scope %q: not one of %s", s, strings.Join(Scopes, ", "))
		}
	}
	if ttl <= 0 {
		return "", nil, fmt.Errorf("expires %v: must be a positive duration, such as 720h", ttl)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := Token{Name: name, Hash: hashToken(secret), Scopes: slices.Clone(scopes), Created: now.UTC(), Expires: now.Add(ttl).UTC()}
	err := ts.change(func() error {
		for _, o := range ts.tokens {
			if o.Name == name && !o.Revoked {
				return fmt.Errorf("a token named %q exists; revoke it first", name)
			}
		}
		ts.tokens = append(ts.tokens, t)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return secret, &t, nil
}

// change reads the file afresh, applies edit and writes the file, all
// under the file's lock, which the CLI and the gateway share: a change made
// by another process at the same moment is never undone.
func (ts *Tokens) change(edit func() error) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return atomicfile.Locked(ts.path, func() error {
		ts.tokens, ts.mod = nil, time.Time{} // not the cache: the file as it is now
		if err := ts.load(); err != nil {
			return err
		}
		if err := edit(); err != nil {
			return err
		}
		return ts.save()
	})
}

// List returns every token, revoked and expired ones included.
func (ts *Tokens) List() ([]Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err := ts.load(); err != nil {
		return nil, err
	}
	return slices.Clone(ts.tokens), nil
}

// Revoke revokes the token named name.
func (ts *Tokens) Revoke(name string) error {
	return ts.change(func() error {
		for i := range ts.tokens {
			if ts.tokens[i].Name == name && !ts.tokens[i].Revoked {
				ts.tokens[i].Revoked = true
				return nil
			}
		}
		return fmt.Errorf("no token named %q in force", name)
	})
}

// Authenticate returns the token whose secret is given, if it is in force.
func (ts *Tokens) Authenticate(secret string, now time.Time) (*Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return nil, ErrNoToken
	}
	h := hashToken(secret)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err := ts.load(); err != nil {
		return nil, err
	}
	for _, t := range ts.tokens {
		// The secrets are 256 random bits: comparing their hashes leaks
		// nothing usable about a secret.
		if t.Hash == h {
			if t.Revoked || !now.Before(t.Expires) {
				return nil, ErrNoToken
			}
			return &t, nil
		}
	}
	return nil, ErrNoToken
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
