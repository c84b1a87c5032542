package chain

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/splitup/splitup/contract"
)

// keyFileType marks an account key file.
const keyFileType = "splitup-ed25519-account-key"

// keyFile is the JSON form of an account key file.
type keyFile struct {
	Type    string `json:"type"`
	Address string `json:"address"` // hex ed25519 public key = contract.Address
	Seed    string `json:"seed"`    // hex 32-byte ed25519 seed
}

// ErrKeyPermissions is returned for a key file readable by group or others.
var ErrKeyPermissions = errors.New("key file is readable by other users")

// GenerateKeyFile creates a new account key at path (mode 0600). It refuses
// to overwrite an existing file.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return priv, WriteKeyFile(path, priv)
}

// WriteKeyFile writes priv to a new file at path with mode 0600.
func WriteKeyFile(path string, priv ed25519.PrivateKey) error {
	b, err := json.MarshalIndent(keyFile{
		Type:    keyFileType,
		Address: AddressOf(priv).String(),
		Seed:    hex.EncodeToString(priv.Seed()),
	}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key file: %w (choose another path; an existing key file may hold a funded account, so keep it)", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return nil
}

// ReadKeyFile reads an account key written by WriteKeyFile. It refuses
// files that group or others may read.
func ReadKeyFile(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %v); run: chmod 600 %s", path, ErrKeyPermissions, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var k keyFile
	if err := json.Unmarshal(b, &k); err != nil || k.Type != keyFileType {
		return nil, fmt.Errorf("%s is not a splitup account key file (make one with 'splitup tx keygen --out FILE')", path)
	}
	seed, err := hex.DecodeString(k.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: malformed seed", path)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if AddressOf(priv).String() != k.Address {
		return nil, fmt.Errorf("%s: address does not match the seed", path)
	}
	return priv, nil
}

// AddressOf returns the account address of a private key.
func AddressOf(priv ed25519.PrivateKey) contract.Address {
	return contract.Address(priv.Public().(ed25519.PublicKey))
}
