"""The demo's fictitious data owners and their datasets, with their access policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecobridge.demo import air, glaciers
from ecobridge.demo.areas import NATURAL_EARTH_ATTRIBUTION

# name of each country in English, Chinese and Russian
COUNTRY_NAMES = {
    "CHN": ("China", "中国", "Китай"), "KAZ": ("Kazakhstan", "哈萨克斯坦", "Казахстан"),
    "KGZ": ("Kyrgyzstan", "吉尔吉斯斯坦", "Киргизия"),
    "TJK": ("Tajikistan", "塔吉克斯坦", "Таджикистан"),
    "UZB": ("Uzbekistan", "乌兹别克斯坦", "Узбекистан"), "RUS": ("Russia", "俄罗斯", "Россия"),
    "IND": ("India", "印度", "Индия"), "PAK": ("Pakistan", "巴基斯坦", "Пакистан"),
    "IRN": ("Iran", "伊朗", "Иран"), "BLR": ("Belarus", "白俄罗斯", "Беларусь"),
    "MNG": ("Mongolia", "蒙古国", "Монголия"), "NPL": ("Nepal", "尼泊尔", "Непал"),
}

# The air network shared only with partners, and the one under embargo.
PARTNERS_AIR = "KAZ"
PARTNERS_AIR_GRANTEES = ("KGZ", "UZB")   # countries whose organisations the network is open to
EMBARGOED_AIR = "IRN"
EMBARGO_DAYS = 365

CN_PARK, RU_PARK = "demo-cn-tiger-leopard-park", "demo-ru-land-of-leopard"
# The publisher of the real Camtrap DP example (demo/camtrap_example.py): INBO, in Belgium, where
# the example's four camera traps stand (its datapackage.json and shared data README).
EXAMPLE_PUBLISHER = "demo-be-inbo"


def air_org_slug(country: str) -> str:
    return f"demo-{country.lower()}-air-agency"


def air_dataset_slug(country: str) -> str:
    return f"demo-air-{country.lower()}"


def organisations() -> list[dict]:
    orgs = []
    for country in air.countries():
        en, zh, ru = COUNTRY_NAMES[country]
        orgs.append({"slug": air_org_slug(country), "country": country, "kind": "ministry",
                     "name": {"en": f"{en} Air Monitoring Agency (fictitious)",
                              "zh": f"{zh}空气监测署（虚构）",
                              "ru": f"Агентство мониторинга воздуха, {ru} (вымышленное)"}})
    orgs += [
        {"slug": CN_PARK, "country": "CHN", "kind": "park",
         "name": {"en": "Northeast China Tiger and Leopard Park Administration (demo)",
                  "zh": "东北虎豹国家公园管理局（演示）",
                  "ru": "Администрация нацпарка тигра и леопарда Северо-Восточного Китая "
                        "(демо)"}},
        {"slug": RU_PARK, "country": "RUS", "kind": "park",
         "name": {"en": "Land of the Leopard Park Administration (demo)",
                  "zh": "豹地国家公园管理处（演示）",
                  "ru": "Дирекция нацпарка «Земля леопарда» (демо)"}},
        {"slug": "demo-glacier-centre", "country": "KGZ", "kind": "research",
         "name": {"en": "Central Asian Glacier Monitoring Centre (fictitious)",
                  "zh": "中亚冰川监测中心（虚构）",
                  "ru": "Центральноазиатский центр мониторинга ледников (вымышленный)"}},
        {"slug": "demo-gwadar-port-energy", "country": "PAK", "kind": "company",
         "name": {"en": "Gwadar Port Green Energy Company (fictitious)",
                  "zh": "瓜达尔港绿色能源公司（虚构）",
                  "ru": "Компания «Зелёная энергия порта Гвадар» (вымышленная)"}},
        {"slug": "demo-kyzyl-suu-solar", "country": "KGZ", "kind": "cooperative",
         "name": {"en": "Kyzyl-Suu Village Solar Cooperative (fictitious)",
                  "zh": "克孜勒苏村太阳能合作社（虚构）",
                  "ru": "Солнечный кооператив села Кызыл-Суу (вымышленный)"}},
        {"slug": EXAMPLE_PUBLISHER, "country": "BEL", "kind": "research",
         "name": {"en": "Research Institute for Nature and Forest, INBO (demo account)",
                  "zh": "比利时自然与森林研究所（INBO，演示账户）",
                  "ru": "Институт исследований природы и леса INBO (демо-аккаунт)"}},
        {"slug": "demo-regional-data-office", "country": "CHN", "kind": "secretariat",
         "name": {"en": "Regional Environmental Data Office (fictitious)",
                  "zh": "区域环境数据办公室（虚构）",
                  "ru": "Региональное бюро экологических данных (вымышленное)"}},
    ]
    return orgs


def datasets(now: datetime | None = None) -> list[dict]:
    """Keyword arguments for catalog.service.create_dataset, plus `grants` and `kind` (how the
    builder fills it)."""
    now = now or datetime.now(UTC)
    out = []
    for country in air.countries():
        en, zh, ru = COUNTRY_NAMES[country]
        ds = {
            "slug": air_dataset_slug(country), "owner": air_org_slug(country), "domain": "air",
            "title": {"en": f"{en}: national air-quality monitoring network (demo)",
                      "zh": f"{zh}国家空气质量监测网络（演示数据）",
                      "ru": f"{ru}: национальная сеть мониторинга качества воздуха (демо)"},
            "description": {"en": "Synthetic hourly PM2.5, PM10, NO2, SO2, O3 and CO for "
                                  "2024-2025 with plausible daily and seasonal cycles. Demo "
                                  "data: not measurements.",
                            "zh": "2024—2025 年逐时 PM2.5、PM10、NO2、SO2、O3 和 CO 合成数据，"
                                  "日变化和季节变化符合实际规律。演示数据，并非实测值。",
                            "ru": "Синтетические почасовые значения PM2.5, PM10, NO2, SO2, O3 "
                                  "и CO за 2024–2025 годы с правдоподобными суточными и "
                                  "сезонными циклами. Демонстрационные данные, а не "
                                  "измерения."},
            "licence": "CC-BY-4.0", "keywords": ["air quality", "demo"], "kind": "air",
            "country": country,
        }
        if country == PARTNERS_AIR:
            ds["visibility"] = "partners"
            ds["grants"] = [{"country": c} for c in PARTNERS_AIR_GRANTEES]
        if country == EMBARGOED_AIR:
            ds["embargo_until"] = now + timedelta(days=EMBARGO_DAYS)
        out.append(ds)
    camtrap_description = {
        "en": "Synthetic camera-trap survey (Camtrap DP): deployments, media and detections "
              "of Amur tigers, Amur leopards and their prey. Positions are sensitive. Demo data.",
        "zh": "合成的红外相机调查数据（Camtrap DP）：东北虎、东北豹及其猎物的相机布设、影像和"
              "识别记录。位置属于敏感信息。演示数据。",
        "ru": "Синтетические данные фотоловушек (Camtrap DP): установки, снимки и регистрации "
              "амурских тигров, дальневосточных леопардов и их добычи. Местоположения "
              "конфиденциальны. Демонстрационные данные."}
    out += [
        {"slug": "demo-glaciers-wgms", "owner": "demo-glacier-centre", "domain": "glacier",
         "title": {"en": "Glacier mass balance in Central and High Mountain Asia (WGMS)",
                   "zh": "中亚及亚洲高山区冰川物质平衡（WGMS）",
                   "ru": "Баланс массы ледников Центральной и Высокогорной Азии (WGMS)"},
         "description": {"en": "Real annual glacier-wide mass balance (mm w.e.) of 69 glaciers "
                               "from the WGMS Fluctuations of Glaciers database, in a demo "
                               "deployment.",
                         "zh": "来自世界冰川监测服务处（WGMS）冰川波动数据库的 69 条冰川的"
                               "真实年度全冰川物质平衡（毫米水当量），用于演示部署。",
                         "ru": "Реальный годовой баланс массы 69 ледников (в мм водного "
                               "эквивалента) из базы данных WGMS «Колебания ледников», в "
                               "демонстрационном развёртывании."},
         "licence": "CC-BY-4.0", "attribution": glaciers.ATTRIBUTION,
         "keywords": ["glacier", "mass balance", "WGMS"], "kind": "glaciers"},
        {"slug": "demo-camtrap-cn-nctlnp", "owner": CN_PARK, "domain": "wildlife",
         "title": {"en": "Camera traps, Northeast China Tiger and Leopard National Park (demo)",
                   "zh": "东北虎豹国家公园红外相机监测（演示数据）",
                   "ru": "Фотоловушки нацпарка тигра и леопарда Северо-Восточного Китая "
                         "(демо)"},
         "description": camtrap_description, "licence": "CC-BY-4.0", "visibility": "partners",
         "sensitive": True, "generalise_km": 10.0, "keywords": ["camera trap", "tiger"],
         "kind": "camtrap", "side": "CN", "grants": [{"org": RU_PARK, "precise": True}]},
        {"slug": "demo-camtrap-ru-lotl", "owner": RU_PARK, "domain": "wildlife",
         "title": {"en": "Camera traps, Land of the Leopard National Park (demo)",
                   "zh": "豹地国家公园红外相机监测（演示数据）",
                   "ru": "Фотоловушки национального парка «Земля леопарда» (демо)"},
         "description": camtrap_description, "licence": "CC-BY-4.0", "visibility": "partners",
         "sensitive": True, "generalise_km": 10.0, "keywords": ["camera trap", "leopard"],
         "kind": "camtrap", "side": "RU", "grants": [{"org": CN_PARK, "precise": True}]},
        {"slug": "demo-energy-gwadar-wind", "owner": "demo-gwadar-port-energy",
         "domain": "energy",
         "title": {"en": "Gwadar port wind farm: hourly generation (demo)",
                   "zh": "瓜达尔港风电场逐时发电量（演示数据）",
                   "ru": "Ветропарк порта Гвадар: почасовая выработка (демо)"},
         "description": {"en": "Synthetic hourly power output of a 50 MW wind farm at Gwadar "
                               "port for 2024-2025. Demo data: not measurements.",
                         "zh": "瓜达尔港 50 兆瓦风电场 2024—2025 年逐时出力合成数据。"
                               "演示数据，并非实测值。",
                         "ru": "Синтетическая почасовая выработка ветропарка мощностью 50 МВт "
                               "в порту Гвадар за 2024–2025 годы. Демонстрационные данные, а "
                               "не измерения."},
         "licence": "CC-BY-4.0", "keywords": ["wind", "energy"], "kind": "energy",
         "plant": "wind"},
        {"slug": "demo-energy-kyzyl-suu-pv", "owner": "demo-kyzyl-suu-solar", "domain": "energy",
         "title": {"en": "Kyzyl-Suu village rooftop solar: hourly generation (demo)",
                   "zh": "克孜勒苏村屋顶光伏逐时发电量（演示数据）",
                   "ru": "Крышные солнечные станции села Кызыл-Суу: почасовая выработка (демо)"},
         "description": {"en": "Synthetic hourly power output of the village's rooftop solar "
                               "panels for 2024-2025. Demo data: not measurements.",
                         "zh": "该村屋顶光伏板 2024—2025 年逐时出力合成数据。"
                               "演示数据，并非实测值。",
                         "ru": "Синтетическая почасовая выработка солнечных панелей на крышах "
                               "села за 2024–2025 годы. Демонстрационные данные, а не "
                               "измерения."},
         "licence": "CC-BY-4.0", "keywords": ["solar", "energy"], "kind": "energy",
         "plant": "pv"},
        {"slug": "demo-protected-areas", "owner": "demo-regional-data-office",
         "domain": "areas",
         "title": {"en": "Protected areas of the demo region (approximate outlines)",
                   "zh": "演示区域自然保护地（近似边界）",
                   "ru": "Охраняемые территории демонстрационного региона "
                         "(приблизительные границы)"},
         "description": {"en": "Hand-drawn approximate outlines of four parks and reserves; "
                               "not legal boundaries.",
                         "zh": "四处公园和保护区的手绘近似边界，并非法定边界。",
                         "ru": "Нарисованные от руки приблизительные контуры четырёх парков и "
                               "заповедников; это не юридические границы."},
         "licence": "CC-BY-4.0", "keywords": ["protected area"], "kind": "protected_areas"},
        {"slug": "boundaries", "owner": "demo-regional-data-office", "domain": "boundaries",
         "title": {"en": "Country boundaries (Natural Earth 1:110m)",
                   "zh": "国家边界（Natural Earth 1:1.1亿）",
                   "ru": "Границы стран (Natural Earth 1:110 млн)"},
         "description": {"en": "De facto boundaries as drawn by Natural Earth; several borders "
                               "in the region are disputed.",
                         "zh": "Natural Earth 绘制的实际控制边界；本地区有若干段边界存在争议。",
                         "ru": "Фактические границы в том виде, как их проводит Natural Earth; "
                               "ряд границ в регионе оспаривается."},
         "licence": "LicenseRef-PublicDomain", "attribution": NATURAL_EARTH_ATTRIBUTION,
         "keywords": ["boundaries"], "kind": "boundaries"},
    ]
    return out
