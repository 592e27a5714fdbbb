package main

import (
	"testing"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/stretchr/testify/assert"
)

func TestDescribeSubject(t *testing.T) {
	s := match.Subject{Names: []match.Name{{Full: "KURT AHMET"}, {Given: "Ahmet", Family: "Kurt"}}, BirthDate: match.Date{Year: 1988, Month: 7}, Sex: 1}
	assert.Equal(t, `"KURT AHMET" / "Ahmet Kurt" 1988-07 sex 1`, describeSubject(s))
}
