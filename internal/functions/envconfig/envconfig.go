// Package envconfig reads the settings a function takes from its environment
// (the names of its resources), with errors that say what is missing.
package envconfig

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Require returns the value of the variable name, or an error saying what it
// is for when it is unset or empty.
func Require(name, purpose string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s is not set: it must hold %s", name, purpose)
	}
	return v, nil
}

// Fraction returns the variable name as a number from 0 to 1, or def when it
// is unset.
func Fraction(name string, def float64) (float64, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%s=%q: want a number from 0 to 1", name, v)
	}
	return f, nil
}
