module github.com/xray-tracer/xray-tracer/test

go 1.26.8

replace github.com/xray-tracer/xray-tracer => ../
