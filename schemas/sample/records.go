package sample

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// epoch anchors generated times so output does not depend on the clock.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func moment(r *rand.Rand) time.Time {
	return epoch.Add(time.Duration(r.IntN(330*24*3600)) * time.Second)
}

type party struct {
	Name    string `json:"name"`
	TaxID   string `json:"tax_id"`
	Country string `json:"country"`
	City    string `json:"city,omitempty"`
}

func company(r *rand.Rand) string {
	return fmt.Sprintf("%s %s %s", pick(r, companyFirst), pick(r, companySecond), pick(r, companyForm))
}

func newParty(r *rand.Rand, country string) party {
	return party{Name: company(r), TaxID: country + digits(r, 10), Country: country, City: pick(r, cities)}
}

type declItem struct {
	Line      int     `json:"line"`
	HSCode    string  `json:"hs_code"`
	Desc      string  `json:"description"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit"`
	NetMassKg float64 `json:"net_mass_kg"`
	Value     float64 `json:"value"`
	Currency  string  `json:"currency"`
	Origin    string  `json:"origin_country"`
}

type declaration struct {
	ID             string     `json:"declaration_id"`
	Type           string     `json:"declaration_type"`
	LodgedAt       string     `json:"lodged_at"`
	Office         string     `json:"customs_office"`
	Origin         string     `json:"origin_country"`
	Destination    string     `json:"destination_country"`
	Classification string     `json:"classification"`
	HSChapter      string     `json:"hs_chapter"`
	TotalValueUSD  int64      `json:"total_value_usd"`
	Declarant      party      `json:"declarant"`
	Consignee      party      `json:"consignee"`
	Transport      transport  `json:"transport"`
	Items          []declItem `json:"items"`
	Status         string     `json:"status"`
}

type transport struct {
	Mode      string `json:"mode"`
	VehicleID string `json:"vehicle_id,omitempty"`
	Border    string `json:"border_crossing"`
}

var classifications = []string{"public", "internal", "internal", "restricted", "restricted", "confidential"}

func customsDeclaration(r *rand.Rand, i int) any {
	origin := pick(r, []string{"CN", "CN", "CN", "KZ", "UZ", "TR"})
	dest := pick(r, countries)
	for dest == origin {
		dest = pick(r, countries)
	}
	office := pick(r, places)
	d := declaration{
		ID:             fmt.Sprintf("%s-%s-2026-%08d", office.country, office.unlocode[2:], i),
		Type:           pick(r, []string{"export", "export", "import", "transit"}),
		LodgedAt:       moment(r).Format(time.RFC3339),
		Office:         office.unlocode + digits(r, 3),
		Origin:         origin,
		Destination:    dest,
		Classification: pick(r, classifications),
		Declarant:      newParty(r, origin),
		Consignee:      newParty(r, dest),
		Transport:      transport{Mode: pick(r, []string{"rail", "rail", "road", "sea", "multimodal"}), VehicleID: letters(r, 4) + digits(r, 7), Border: pick(r, borderCrossings)},
		Status:         pick(r, []string{"lodged", "accepted", "released", "released", "held"}),
	}
	var total float64
	for n := range 1 + r.IntN(4) {
		g := pick(r, goods)
		qty := float64(1 + r.IntN(400))
		if g.unit == "t" {
			qty = round2(1 + r.Float64()*60)
		}
		value := round2(qty * g.usdPerUnit * (0.8 + 0.4*r.Float64()))
		total += value
		d.Items = append(d.Items, declItem{Line: n + 1, HSCode: g.hs, Desc: g.desc, Quantity: qty, Unit: g.unit,
			NetMassKg: round2(qty * g.kgPerUnit), Value: value, Currency: "USD", Origin: origin})
	}
	d.HSChapter = d.Items[0].HSCode[:2]
	d.TotalValueUSD = int64(total)
	return d
}

type coGood struct {
	HSCode    string  `json:"hs_code"`
	Desc      string  `json:"description"`
	Criterion string  `json:"origin_criterion"`
	GrossKg   float64 `json:"gross_mass_kg"`
}

type coParty struct {
	Name    string `json:"name"`
	TaxID   string `json:"tax_id,omitempty"`
	Country string `json:"country"`
	Address string `json:"address,omitempty"`
}

type certificate struct {
	ID             string   `json:"certificate_id"`
	IssuedAt       string   `json:"issued_at"`
	ValidUntil     string   `json:"valid_until"`
	Authority      string   `json:"issuing_authority"`
	Exporter       coParty  `json:"exporter"`
	Importer       coParty  `json:"importer"`
	Origin         string   `json:"origin_country"`
	Destination    string   `json:"destination_country"`
	Agreement      string   `json:"agreement"`
	Classification string   `json:"classification"`
	InvoiceRef     string   `json:"invoice_ref"`
	Goods          []coGood `json:"goods"`
}

func certificateOfOrigin(r *rand.Rand, i int) any {
	origin := pick(r, []string{"CN", "KZ", "UZ", "GE", "TR", "AZ"})
	dest := pick(r, countries)
	issued := moment(r)
	c := certificate{
		ID:             fmt.Sprintf("%sCO-%07d", origin, i),
		IssuedAt:       issued.Format(time.DateOnly),
		ValidUntil:     issued.AddDate(0, 12, 0).Format(time.DateOnly),
		Authority:      pick(r, authorities),
		Exporter:       coParty{Name: company(r), TaxID: origin + digits(r, 10), Country: origin, Address: fmt.Sprintf("%d %s Avenue, %s", 1+r.IntN(300), pick(r, familyNames), pick(r, cities))},
		Importer:       coParty{Name: company(r), Country: dest},
		Origin:         origin,
		Destination:    dest,
		Agreement:      pick(r, []string{"none", "EAEU-FTA", "RCEP", "CN-GE-FTA", "GSP"}),
		Classification: pick(r, classifications),
		InvoiceRef:     "INV-" + digits(r, 8),
	}
	for range 1 + r.IntN(3) {
		g := pick(r, goods)
		c.Goods = append(c.Goods, coGood{HSCode: g.hs, Desc: g.desc, Criterion: pick(r, []string{"WO", "PE", "PSR", "CTH", "RVC40"}), GrossKg: round2(10 + r.Float64()*20000)})
	}
	return c
}

type location struct {
	UNLocode string  `json:"unlocode"`
	Name     string  `json:"name"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
}

type event struct {
	ID             string   `json:"event_id"`
	ShipmentID     string   `json:"shipment_id"`
	ContainerID    string   `json:"container_id"`
	Type           string   `json:"event_type"`
	OccurredAt     string   `json:"occurred_at"`
	Location       location `json:"location"`
	Country        string   `json:"country"`
	Mode           string   `json:"mode"`
	Carrier        string   `json:"carrier"`
	SealIntact     bool     `json:"seal_intact"`
	TemperatureC   float64  `json:"temperature_c"`
	DriverName     string   `json:"driver_name,omitempty"`
	Classification string   `json:"classification"`
}

func shipmentEvent(r *rand.Rand, i int) any {
	p := pick(r, places)
	mode := pick(r, []string{"rail", "rail", "road", "sea", "air"})
	e := event{
		ID:          fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1)),
		ShipmentID:  fmt.Sprintf("SHP-%s-%06d", p.country, i/8),
		ContainerID: letters(r, 3) + "U" + digits(r, 7),
		Type:        pick(r, []string{"loaded", "departed", "border_crossed", "inspected", "arrived", "unloaded", "delivered"}),
		OccurredAt:  moment(r).Format(time.RFC3339),
		Location:    location{UNLocode: p.unlocode, Name: p.name, Lat: p.lat, Lon: p.lon},
		Country:     p.country,
		Mode:        mode,
		Carrier:     pick(r, carriers),
		SealIntact:  r.IntN(50) != 0,
		// Refrigerated cargo in winter on the steppe: -25 to +8 C.
		TemperatureC:   round2(-25 + r.Float64()*33),
		Classification: pick(r, classifications),
	}
	if mode == "road" {
		e.DriverName = pick(r, givenNames) + " " + pick(r, familyNames)
	}
	return e
}

type address struct {
	Street   string `json:"street"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

type director struct {
	Name        string `json:"name"`
	NationalID  string `json:"national_id"`
	Nationality string `json:"nationality"`
	AppointedAt string `json:"appointed_at"`
}

type owner struct {
	Name  string  `json:"name"`
	Share float64 `json:"share_pct"`
}

type extract struct {
	RegNumber      string     `json:"registration_number"`
	Jurisdiction   string     `json:"jurisdiction"`
	LegalName      string     `json:"legal_name"`
	LegalForm      string     `json:"legal_form"`
	Status         string     `json:"status"`
	RegisteredAt   string     `json:"registered_at"`
	SectorCode     string     `json:"sector_code"`
	Classification string     `json:"classification"`
	Address        address    `json:"address"`
	Directors      []director `json:"directors"`
	Owners         []owner    `json:"beneficial_owners"`
	IssuedAt       string     `json:"extract_issued_at"`
}

func companyExtract(r *rand.Rand, i int) any {
	j := pick(r, []string{"KZ", "UZ", "GE", "AZ", "KG", "TR"})
	e := extract{
		RegNumber:      fmt.Sprintf("%s%010d", letters(r, 2), i),
		Jurisdiction:   j,
		LegalName:      company(r),
		LegalForm:      pick(r, []string{"LLC", "LLC", "JSC", "sole-proprietor", "partnership", "state-enterprise"}),
		Status:         pick(r, []string{"active", "active", "active", "in_liquidation", "dissolved", "suspended"}),
		RegisteredAt:   epoch.AddDate(-1-r.IntN(25), 0, r.IntN(365)).Format(time.DateOnly),
		SectorCode:     pick(r, []string{"A01", "C10", "C13", "C24", "C27", "G46", "H49", "H50", "H52", "J62", "K64"}),
		Classification: pick(r, classifications),
		Address:        address{Street: fmt.Sprintf("%d %s Street", 1+r.IntN(200), pick(r, familyNames)), City: pick(r, cities), Postcode: digits(r, 6), Country: j},
		IssuedAt:       moment(r).Format(time.RFC3339),
	}
	for range 1 + r.IntN(3) {
		e.Directors = append(e.Directors, director{Name: pick(r, givenNames) + " " + pick(r, familyNames), NationalID: digits(r, 12), Nationality: pick(r, countries), AppointedAt: epoch.AddDate(-r.IntN(10), 0, 0).Format(time.DateOnly)})
	}
	left := 100.0
	for n := range 1 + r.IntN(3) {
		share := left
		if n < 2 {
			share = round2(left * (0.3 + 0.6*r.Float64()))
		}
		left = round2(left - share)
		e.Owners = append(e.Owners, owner{Name: pick(r, givenNames) + " " + pick(r, familyNames), Share: share})
		if left <= 0 {
			break
		}
	}
	return e
}
