package match

// The name pools of the synthetic test set (Generate): each name in the
// script its registry writes it in — Cyrillic for Tajikistan, Kazakhstan,
// Kyrgyzstan and Uzbekistan (transliterated by translit.go's schemes),
// Latin with Turkish letters for Türkiye. Family names are the masculine
// form; feminineFamily makes the other.

type pool struct {
	country      string
	latinNative  bool // the registry writes Latin (Türkiye)
	male, female []string
	families     []string
}

var pools = []pool{
	{country: "TJ",
		male: []string{"Ҳасан", "Ҳусан", "Шариф", "Фаррух", "Ҷамшед", "Рустам", "Бахтиёр", "Фирдавс", "Суҳроб", "Маҳмуд",
			"Ориф", "Зафар", "Сино", "Парвиз", "Далер", "Комрон", "Иброҳим", "Юсуф", "Умед", "Ҷаҳонгир", "Абдуллоҳ", "Нуриддин"},
		female: []string{"Мавҷуда", "Гулнора", "Нигина", "Фарангис", "Шаҳноза", "Мадина", "Зарина", "Дилноза", "Малика",
			"Сабрина", "Парвина", "Меҳрангез", "Зулфия", "Ҳабиба", "Таҳмина", "Манижа", "Гулрухсор"},
		families: []string{"Шарифзода", "Раҳимов", "Ғафуров", "Қодиров", "Назаров", "Саидов", "Ҳасанов", "Ҷалолов", "Раҳмонзода",
			"Ашурзода", "Мирзоев", "Нурматов", "Давлатов", "Исмоилов", "Каримов", "Олимов", "Сафаров", "Ҳакимов", "Қурбонов", "Юсуфзода"}},
	{country: "UZ",
		male: []string{"Алишер", "Ўктам", "Жасур", "Шерзод", "Бобур", "Отабек", "Улуғбек", "Санжар", "Дилшод", "Азиз",
			"Жамшид", "Фарҳод", "Нодир", "Ботир", "Шуҳрат", "Ёқуб", "Хуршид", "Равшан", "Тоҳир", "Акмал"},
		female: []string{"Дилноза", "Нилуфар", "Гулнора", "Шаҳноза", "Мафтуна", "Севара", "Феруза", "Зарина", "Азиза", "Малика",
			"Ёқутхон", "Ўғилой", "Нодира", "Гулчеҳра", "Муниса", "Холида"},
		families: []string{"Юсупов", "Каримов", "Қосимов", "Ғуломов", "Тошматов", "Раҳимов", "Абдуллаев", "Эргашев", "Холматов",
			"Усмонов", "Мирзаев", "Содиқов", "Турсунов", "Жўраев", "Хўжаев", "Исмоилов", "Нормуродов", "Йўлдошев"}},
	{country: "KZ",
		male: []string{"Айбек", "Нұрлан", "Ержан", "Қайрат", "Асқар", "Дәурен", "Жанболат", "Бауыржан", "Серік", "Ерлан",
			"Мұхтар", "Әлихан", "Ғалым", "Жандос", "Талғат", "Арман", "Данияр", "Ерболат"},
		female: []string{"Әлия", "Жанар", "Айгүл", "Гүлнұр", "Динара", "Айжан", "Меруерт", "Салтанат", "Ақмарал", "Жұлдыз",
			"Гүлмира", "Әсел", "Аружан", "Балжан", "Сәуле"},
		families: []string{"Нұрланов", "Сейітов", "Қасымов", "Әбілов", "Жақсыбеков", "Тоқтаров", "Омаров", "Бекмұхамбетов",
			"Серікбаев", "Ахметов", "Жұмабаев", "Оспанов", "Құрманов", "Сәрсенбаев", "Төлеуов", "Ысқақов"}},
	{country: "KG",
		male: []string{"Өмүрбек", "Азамат", "Нурбек", "Бакыт", "Эрлан", "Мирлан", "Темирлан", "Үсөн", "Жыргалбек", "Алмаз",
			"Бектур", "Кубанычбек", "Чыңгыз", "Адилет", "Эмил"},
		female: []string{"Айпери", "Гүлзат", "Нургүл", "Айзада", "Чолпон", "Бермет", "Жылдыз", "Айнура", "Назира", "Мээрим",
			"Асель", "Бүбүсара", "Элнура"},
		families: []string{"Токтогулов", "Исаков", "Жээнбеков", "Осмонов", "Сыдыков", "Абдыкадыров", "Бакиров", "Мамытов",
			"Шаршеналиев", "Өмүров", "Асанов", "Үсөнов", "Чотонов", "Тургунбаев"}},
	{country: "TR", latinNative: true,
		male: []string{"İsmail", "Mehmet", "Ahmet", "Mustafa", "Hüseyin", "Hasan", "Ömer", "Çağrı", "İbrahim", "Yusuf",
			"Emre", "Burak", "Oğuz", "Şükrü", "İlker", "Kadir", "Serkan", "Tuğrul"},
		female: []string{"Ayşe", "Fatma", "Emine", "Zeynep", "Şeyma", "Gül", "Özlem", "Büşra", "Elif", "Hatice", "İrem",
			"Dilek", "Gökçe", "Sıla", "Ebru", "Nurcan"},
		families: []string{"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Özdemir", "Arslan",
			"Doğan", "Kılıç", "Işık", "Koç", "Çakır", "Aksoy", "Güneş", "Erdoğan", "Kurt", "Özkan"}},
}

// feminineFamily gives the feminine form of a Russian-pattern family name
// (Юсупов → Юсупова); other names are the same for both.
func feminineFamily(f string) string {
	r := []rune(f)
	if n := len(r); n > 2 && (string(r[n-2:]) == "ов" || string(r[n-2:]) == "ев" || string(r[n-2:]) == "ин") {
		return f + "а"
	}
	return f
}

// patronymicOfFather builds the Russian-pattern patronymic the region's
// Cyrillic registries write (Рустам → Рустамович / Рустамовна).
func patronymicOfFather(father string, sex int) string {
	r := []rune(father)
	base := father
	masc, fem := "ович", "овна"
	if n := len(r); n > 0 {
		switch r[n-1] {
		case 'й':
			base, masc, fem = string(r[:n-1]), "евич", "евна"
		case 'а', 'о', 'и', 'ӣ', 'я', 'у':
			masc, fem = "евич", "евна"
		}
	}
	if sex == SexFemale {
		return base + fem
	}
	return base + masc
}
