//! Reference data: the 30 académies, their départements and their régions académiques.
//!
//! A node is identified by its académie code (a lowercase slug, e.g. `toulouse`, `aix-marseille`),
//! which also prefixes every routing key. Overseas académies are each their own région académique.

use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub struct AcademicRegion {
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Department {
    /// INSEE code: "01".."95", "2A", "2B", "971".."976".
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Academy {
    pub code: &'static str,
    pub name: &'static str,
    pub region: &'static AcademicRegion,
    pub departments: &'static [Department],
}

impl Academy {
    /// Looks an académie up by its code.
    pub fn find(code: &str) -> Option<&'static Academy> {
        ACADEMIES.iter().find(|a| a.code == code)
    }

    /// Like [`Academy::find`], with an error naming the valid codes.
    pub fn parse(code: &str) -> Result<&'static Academy, String> {
        Self::find(code).ok_or_else(|| {
            format!(
                "unknown académie code {code:?}; expected one of: {}",
                ACADEMIES
                    .iter()
                    .map(|a| a.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    pub fn department(&self, code: &str) -> Option<&'static Department> {
        self.departments.iter().find(|d| d.code == code)
    }

    /// The académies of the same région académique, this one included.
    pub fn region_academies(&self) -> impl Iterator<Item = &'static Academy> + '_ {
        ACADEMIES.iter().filter(move |a| a.region == self.region)
    }
}

impl fmt::Display for Academy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// The académie a département belongs to.
pub fn academy_of_department(code: &str) -> Option<&'static Academy> {
    ACADEMIES.iter().find(|a| a.department(code).is_some())
}

/// Every région académique, in the order of [`ACADEMIES`].
pub fn regions() -> Vec<&'static AcademicRegion> {
    let mut out: Vec<&'static AcademicRegion> = Vec::new();
    for a in ACADEMIES {
        if !out.contains(&a.region) {
            out.push(a.region);
        }
    }
    out
}

macro_rules! region {
    ($id:ident, $code:literal, $name:literal) => {
        pub static $id: AcademicRegion = AcademicRegion {
            code: $code,
            name: $name,
        };
    };
}

macro_rules! deps {
    ($($code:literal => $name:literal),* $(,)?) => {
        &[$(Department { code: $code, name: $name }),*]
    };
}

region!(ARA, "auvergne-rhone-alpes", "Auvergne-Rhône-Alpes");
region!(BFC, "bourgogne-franche-comte", "Bourgogne-Franche-Comté");
region!(BRE, "bretagne", "Bretagne");
region!(CVL, "centre-val-de-loire", "Centre-Val de Loire");
region!(COR, "corse", "Corse");
region!(GES, "grand-est", "Grand Est");
region!(HDF, "hauts-de-france", "Hauts-de-France");
region!(IDF, "ile-de-france", "Île-de-France");
region!(NOR, "normandie", "Normandie");
region!(NAQ, "nouvelle-aquitaine", "Nouvelle-Aquitaine");
region!(OCC, "occitanie", "Occitanie");
region!(PDL, "pays-de-la-loire", "Pays de la Loire");
region!(
    PAC,
    "provence-alpes-cote-d-azur",
    "Provence-Alpes-Côte d'Azur"
);
region!(GUA, "guadeloupe", "Guadeloupe");
region!(MTQ, "martinique", "Martinique");
region!(GUF, "guyane", "Guyane");
region!(REU, "la-reunion", "La Réunion");
region!(MAY, "mayotte", "Mayotte");

pub static ACADEMIES: &[Academy] = &[
    Academy {
        code: "aix-marseille",
        name: "Aix-Marseille",
        region: &PAC,
        departments: deps!("04" => "Alpes-de-Haute-Provence", "05" => "Hautes-Alpes", "13" => "Bouches-du-Rhône", "84" => "Vaucluse"),
    },
    Academy {
        code: "amiens",
        name: "Amiens",
        region: &HDF,
        departments: deps!("02" => "Aisne", "60" => "Oise", "80" => "Somme"),
    },
    Academy {
        code: "besancon",
        name: "Besançon",
        region: &BFC,
        departments: deps!("25" => "Doubs", "39" => "Jura", "70" => "Haute-Saône", "90" => "Territoire de Belfort"),
    },
    Academy {
        code: "bordeaux",
        name: "Bordeaux",
        region: &NAQ,
        departments: deps!("24" => "Dordogne", "33" => "Gironde", "40" => "Landes", "47" => "Lot-et-Garonne", "64" => "Pyrénées-Atlantiques"),
    },
    Academy {
        code: "clermont-ferrand",
        name: "Clermont-Ferrand",
        region: &ARA,
        departments: deps!("03" => "Allier", "15" => "Cantal", "43" => "Haute-Loire", "63" => "Puy-de-Dôme"),
    },
    Academy {
        code: "corse",
        name: "Corse",
        region: &COR,
        departments: deps!("2A" => "Corse-du-Sud", "2B" => "Haute-Corse"),
    },
    Academy {
        code: "creteil",
        name: "Créteil",
        region: &IDF,
        departments: deps!("77" => "Seine-et-Marne", "93" => "Seine-Saint-Denis", "94" => "Val-de-Marne"),
    },
    Academy {
        code: "dijon",
        name: "Dijon",
        region: &BFC,
        departments: deps!("21" => "Côte-d'Or", "58" => "Nièvre", "71" => "Saône-et-Loire", "89" => "Yonne"),
    },
    Academy {
        code: "grenoble",
        name: "Grenoble",
        region: &ARA,
        departments: deps!("07" => "Ardèche", "26" => "Drôme", "38" => "Isère", "73" => "Savoie", "74" => "Haute-Savoie"),
    },
    Academy {
        code: "guadeloupe",
        name: "Guadeloupe",
        region: &GUA,
        departments: deps!("971" => "Guadeloupe"),
    },
    Academy {
        code: "guyane",
        name: "Guyane",
        region: &GUF,
        departments: deps!("973" => "Guyane"),
    },
    Academy {
        code: "la-reunion",
        name: "La Réunion",
        region: &REU,
        departments: deps!("974" => "La Réunion"),
    },
    Academy {
        code: "lille",
        name: "Lille",
        region: &HDF,
        departments: deps!("59" => "Nord", "62" => "Pas-de-Calais"),
    },
    Academy {
        code: "limoges",
        name: "Limoges",
        region: &NAQ,
        departments: deps!("19" => "Corrèze", "23" => "Creuse", "87" => "Haute-Vienne"),
    },
    Academy {
        code: "lyon",
        name: "Lyon",
        region: &ARA,
        departments: deps!("01" => "Ain", "42" => "Loire", "69" => "Rhône"),
    },
    Academy {
        code: "martinique",
        name: "Martinique",
        region: &MTQ,
        departments: deps!("972" => "Martinique"),
    },
    Academy {
        code: "mayotte",
        name: "Mayotte",
        region: &MAY,
        departments: deps!("976" => "Mayotte"),
    },
    Academy {
        code: "montpellier",
        name: "Montpellier",
        region: &OCC,
        departments: deps!("11" => "Aude", "30" => "Gard", "34" => "Hérault", "48" => "Lozère", "66" => "Pyrénées-Orientales"),
    },
    Academy {
        code: "nancy-metz",
        name: "Nancy-Metz",
        region: &GES,
        departments: deps!("54" => "Meurthe-et-Moselle", "55" => "Meuse", "57" => "Moselle", "88" => "Vosges"),
    },
    Academy {
        code: "nantes",
        name: "Nantes",
        region: &PDL,
        departments: deps!("44" => "Loire-Atlantique", "49" => "Maine-et-Loire", "53" => "Mayenne", "72" => "Sarthe", "85" => "Vendée"),
    },
    Academy {
        code: "nice",
        name: "Nice",
        region: &PAC,
        departments: deps!("06" => "Alpes-Maritimes", "83" => "Var"),
    },
    Academy {
        code: "normandie",
        name: "Normandie",
        region: &NOR,
        departments: deps!("14" => "Calvados", "27" => "Eure", "50" => "Manche", "61" => "Orne", "76" => "Seine-Maritime"),
    },
    Academy {
        code: "orleans-tours",
        name: "Orléans-Tours",
        region: &CVL,
        departments: deps!("18" => "Cher", "28" => "Eure-et-Loir", "36" => "Indre", "37" => "Indre-et-Loire", "41" => "Loir-et-Cher", "45" => "Loiret"),
    },
    Academy {
        code: "paris",
        name: "Paris",
        region: &IDF,
        departments: deps!("75" => "Paris"),
    },
    Academy {
        code: "poitiers",
        name: "Poitiers",
        region: &NAQ,
        departments: deps!("16" => "Charente", "17" => "Charente-Maritime", "79" => "Deux-Sèvres", "86" => "Vienne"),
    },
    Academy {
        code: "reims",
        name: "Reims",
        region: &GES,
        departments: deps!("08" => "Ardennes", "10" => "Aube", "51" => "Marne", "52" => "Haute-Marne"),
    },
    Academy {
        code: "rennes",
        name: "Rennes",
        region: &BRE,
        departments: deps!("22" => "Côtes-d'Armor", "29" => "Finistère", "35" => "Ille-et-Vilaine", "56" => "Morbihan"),
    },
    Academy {
        code: "strasbourg",
        name: "Strasbourg",
        region: &GES,
        departments: deps!("67" => "Bas-Rhin", "68" => "Haut-Rhin"),
    },
    Academy {
        code: "toulouse",
        name: "Toulouse",
        region: &OCC,
        departments: deps!("09" => "Ariège", "12" => "Aveyron", "31" => "Haute-Garonne", "32" => "Gers", "46" => "Lot", "65" => "Hautes-Pyrénées", "81" => "Tarn", "82" => "Tarn-et-Garonne"),
    },
    Academy {
        code: "versailles",
        name: "Versailles",
        region: &IDF,
        departments: deps!("78" => "Yvelines", "91" => "Essonne", "92" => "Hauts-de-Seine", "95" => "Val-d'Oise"),
    },
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn thirty_academies_in_eighteen_regions() {
        assert_eq!(ACADEMIES.len(), 30);
        assert_eq!(regions().len(), 18);
        let codes: HashSet<_> = ACADEMIES.iter().map(|a| a.code).collect();
        assert_eq!(codes.len(), 30, "academy codes are unique");
    }

    #[test]
    fn every_department_once() {
        let mut seen = HashSet::new();
        for a in ACADEMIES {
            for d in a.departments {
                assert!(seen.insert(d.code), "département {} listed twice", d.code);
            }
        }
        // 96 metropolitan départements (2A and 2B for Corsica, no 20) and 5 overseas.
        assert_eq!(seen.len(), 101);
        for n in 1..=95 {
            let code = format!("{n:02}");
            if n == 20 {
                assert!(!seen.contains(code.as_str()));
            } else {
                assert!(seen.contains(code.as_str()), "département {code} missing");
            }
        }
        for code in ["2A", "2B", "971", "972", "973", "974", "976"] {
            assert!(seen.contains(code));
        }
    }

    #[test]
    fn known_memberships() {
        assert_eq!(academy_of_department("31").unwrap().code, "toulouse");
        assert_eq!(academy_of_department("2B").unwrap().code, "corse");
        assert_eq!(academy_of_department("76").unwrap().code, "normandie");
        assert_eq!(academy_of_department("93").unwrap().code, "creteil");
        let bordeaux = Academy::find("bordeaux").unwrap();
        let region: Vec<_> = bordeaux.region_academies().map(|a| a.code).collect();
        assert_eq!(region, ["bordeaux", "limoges", "poitiers"]);
        assert_eq!(Academy::find("mayotte").unwrap().region.code, "mayotte");
        assert!(Academy::parse("atlantis").unwrap_err().contains("toulouse"));
    }

    #[test]
    fn codes_are_routing_key_safe() {
        for a in ACADEMIES {
            assert!(
                a.code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} must be a lowercase slug (it is a routing key word)",
                a.code
            );
        }
    }
}
