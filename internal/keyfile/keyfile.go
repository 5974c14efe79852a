// Package keyfile creates and reads Ed25519 private keys stored as PKCS#8 PEM
// files ("-----BEGIN PRIVATE KEY-----"), the format that OpenSSL and most
// tools read: `openssl pkey -in node.key -pubout` prints the public key.
//
// Key files are created with mode 0600 and never overwritten. Load refuses a
// key file that is readable by group or others, as ssh does.
package keyfile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Errors that callers check with errors.Is.
var (
	// ErrExists is returned by Generate when the key file already exists.
	ErrExists = errors.New("file already exists; refusing to overwrite it")
	// ErrPermissions is returned by Load when the key file's mode lets
	// group or others read it.
	ErrPermissions = errors.New("key file is readable by group or others")
)

const pemType = "PRIVATE KEY"

// Generate creates a new Ed25519 key and writes it to path with mode 0600.
// It fails with ErrExists if path exists, whatever its content.
func Generate(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := Write(path, priv); err != nil {
		return nil, err
	}
	return priv, nil
}

// Write stores priv at path with mode 0600. It fails with ErrExists if path
// exists.
func Write(path string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Load reads an Ed25519 key written by Generate or by
// `openssl genpkey -algorithm ed25519`.
func Load(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %#o: %w (run: chmod 600 %s)", path, perm, ErrPermissions, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a PKCS#8 PEM Ed25519 private key; name is used in errors.
func Parse(name string, data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemType {
		return nil, fmt.Errorf("%s: not a PEM %q block", name, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want Ed25519", name, k)
	}
	return priv, nil
}
