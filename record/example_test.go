package record_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/record"
)

func ExampleDecode() {
	const export = `<?xml version="1.0" encoding="UTF-8"?>
<cad:Incident xmlns:cad="http://example.com/cad" cad:id="24-000123">
  <cad:Type code="STRUC">Structure Fire</cad:Type>
  <cad:Unit>E12</cad:Unit>
  <cad:Unit>L4</cad:Unit>
  <cad:Remarks><![CDATA[Caller says "kids inside"]]></cad:Remarks>
  <cad:Apartment/>
</cad:Incident>`
	recs, err := record.Decode(record.XML, strings.NewReader(export), record.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(recs[0], "", "  ")
	fmt.Println(string(out))

	_, err = record.Decode(record.CSV, strings.NewReader("id,id\n1,2\n"), record.Limits{})
	fmt.Println(err)
	// Output:
	// {
	//   "@id": "24-000123",
	//   "Apartment": "",
	//   "Remarks": "Caller says \"kids inside\"",
	//   "Type": {
	//     "#text": "Structure Fire",
	//     "@code": "STRUC"
	//   },
	//   "Unit": [
	//     "E12",
	//     "L4"
	//   ]
	// }
	// record: csv: line 1: the header repeats "id" (columns 1 and 2): every column needs its own name
}
