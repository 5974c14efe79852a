package sample

// Reference data for the generators: plausible, not authoritative.

type place struct {
	country, unlocode, name string
	lat, lon                float64
}

var places = []place{
	{"CN", "CNKHG", "Khorgos", 44.21, 80.41},
	{"CN", "CNALK", "Alashankou", 45.17, 82.57},
	{"CN", "CNXIY", "Xi'an International Port", 34.38, 109.07},
	{"CN", "CNURC", "Urumqi", 43.83, 87.62},
	{"CN", "CNCKG", "Chongqing Tuanjiecun", 29.56, 106.55},
	{"KZ", "KZALT", "Altynkol", 44.20, 80.32},
	{"KZ", "KZDOS", "Dostyk", 45.25, 82.48},
	{"KZ", "KZAKX", "Aktau Port", 43.65, 51.17},
	{"KZ", "KZALA", "Almaty", 43.24, 76.89},
	{"UZ", "UZTAS", "Tashkent", 41.30, 69.24},
	{"KG", "KGFRU", "Bishkek", 42.87, 74.59},
	{"AZ", "AZBAK", "Port of Baku (Alat)", 40.16, 49.41},
	{"GE", "GEPTI", "Poti", 42.15, 41.67},
	{"GE", "GETBS", "Tbilisi", 41.72, 44.79},
	{"TR", "TRMER", "Mersin", 36.80, 34.63},
	{"TR", "TRIST", "Istanbul", 41.01, 28.98},
	{"PK", "PKGWD", "Gwadar", 25.12, 62.32},
	{"BY", "BYBRE", "Brest", 52.10, 23.70},
	{"PL", "PLMAL", "Malaszewicze", 52.04, 23.52},
	{"GR", "GRPIR", "Piraeus", 37.94, 23.64},
	{"DE", "DEDUI", "Duisburg", 51.43, 6.76},
}

var borderCrossings = []string{
	"Khorgos-Altynkol", "Alashankou-Dostyk", "Erenhot-Zamyn-Uud", "Irkeshtam", "Torugart",
	"Brest-Malaszewicze", "Sarpi", "Kapikule", "Port of Aktau", "Port of Baku (Alat)", "Port of Poti", "Gwadar Port",
}

var countries = []string{"CN", "KZ", "UZ", "KG", "TJ", "TM", "AZ", "GE", "TR", "IR", "PK", "RU", "BY", "PL", "DE", "GR", "AE", "MN", "MY", "TH", "VN"}

type good struct {
	hs, desc, unit string
	kgPerUnit      float64
	usdPerUnit     float64
}

var goods = []good{
	{"850440", "Static converters (inverters) for solar installations", "pcs", 18, 420},
	{"847130", "Portable computers, laptops under 10 kg", "pcs", 2.1, 610},
	{"851713", "Smartphones", "pcs", 0.35, 280},
	{"850760", "Lithium-ion accumulators", "pcs", 24, 950},
	{"854143", "Photovoltaic cells assembled in modules", "pcs", 22, 130},
	{"870380", "Electric passenger vehicles", "pcs", 1850, 21500},
	{"841810", "Combined refrigerator-freezers", "pcs", 62, 390},
	{"610910", "T-shirts of cotton, knitted", "pcs", 0.18, 3.2},
	{"640399", "Footwear with leather uppers", "pairs", 0.9, 21},
	{"520100", "Cotton, not carded or combed", "t", 1000, 1780},
	{"100199", "Wheat and meslin, other than durum", "t", 1000, 245},
	{"090230", "Black tea, in packings up to 3 kg", "kg", 1, 4.6},
	{"080810", "Fresh apples", "t", 1000, 690},
	{"720839", "Flat-rolled iron, hot-rolled, under 3 mm", "t", 1000, 610},
	{"760110", "Unwrought aluminium, not alloyed", "t", 1000, 2290},
	{"390110", "Polyethylene, specific gravity under 0.94", "t", 1000, 1150},
	{"271012", "Light petroleum oils and preparations", "t", 1000, 720},
	{"940540", "Electric lamps and lighting fittings", "pcs", 1.4, 17},
	{"843149", "Parts of cranes and excavators", "kg", 1, 9.5},
	{"730690", "Tubes and pipes of iron or steel, welded", "t", 1000, 980},
}

var companyFirst = []string{"Silk Road", "Caspian", "Steppe", "Tian Shan", "Golden Camel", "Aral", "Eurasia", "Jade Gate", "Pamir", "Altai", "Khorgos Gateway", "Great Wall", "Anatolia", "Black Sea", "Samarkand", "Orient Express"}
var companySecond = []string{"Trading", "Logistics", "Industrial", "Agro", "Textiles", "Electronics", "Metals", "Energy", "Foods", "Machinery", "Freight"}
var companyForm = []string{"LLC", "Co., Ltd.", "JSC", "LLP", "A.S."}
var carriers = []string{"KTZ Express", "China Railway Container Transport", "ADY Container", "Georgian Railway", "Caspian Shipping Co.", "Silk Way Air", "Trans-Caspian Freight", "Steppe Trucking"}
var cities = []string{"Almaty", "Urumqi", "Tashkent", "Baku", "Tbilisi", "Istanbul", "Xi'an", "Chongqing", "Bishkek", "Aktau", "Mersin", "Minsk", "Warsaw", "Duisburg"}
var givenNames = []string{"Aigerim", "Nurlan", "Wei", "Li", "Dilnoza", "Rustam", "Nino", "Giorgi", "Elif", "Mehmet", "Farida", "Timur", "Mei", "Aziz", "Leyla", "Bolat"}
var familyNames = []string{"Seitkali", "Zhang", "Wang", "Karimov", "Aliyeva", "Beridze", "Yilmaz", "Nazarbekov", "Chen", "Tursunov", "Huseynov", "Abenov", "Liu", "Kapanadze"}
var authorities = []string{"China Council for the Promotion of International Trade", "Chamber of Commerce and Industry of Kazakhstan", "Azerbaijan Chamber of Commerce", "Georgian Chamber of Commerce", "Union of Chambers of Turkey"}
