package anomaly

import (
	"os"
	"strconv"
)

func init() {
	set := func(name string, p *float64) {
		if v := os.Getenv("T_" + name); v != "" {
			*p, _ = strconv.ParseFloat(v, 64)
		}
	}
	set("supp", &suppTmp)
	set("decay", &peakDecay)
	set("direct", &direct)
	set("wv", &wV)
	set("wd", &wD)
	set("ws", &wS)
	set("vmode", &vMode)
	set("vsmooth", &vSmooth)
	set("seas", &seasOn)
	set("qp", &qP)
	set("qlr", &qLR)
	set("q0", &q0)
	set("margin", &peakMargin)
	set("damp", &dampFactor)
	set("sd", &sdFloor)
	set("shortw", &shortW)
	set("longa", &longA)
}
