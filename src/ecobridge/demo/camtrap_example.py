"""The real Camtrap DP example package in the demo: the INBO "MICA" sample (4 deployments, 423
media, 549 observations of muskrat, coypu and company at four sites in Flanders, Belgium),
CC0-1.0, copied unmodified into demo/data/camtrap-dp-example (NOTICE). It goes in through the
Camtrap DP importer, so the demo shows an exchange package next to the synthetic surveys. Its
owner is a demo account of its publisher, INBO, so the pages list it under Belgium.
"""

from __future__ import annotations

from pathlib import Path

from ecobridge.demo.agencies import EXAMPLE_PUBLISHER

FOLDER = Path(__file__).parent / "data" / "camtrap-dp-example"
SLUG = "demo-camtrap-dp-example"
OWNER = EXAMPLE_PUBLISHER
ATTRIBUTION = ("Desmet P, Neukermans A, Van der beeck D, Cartuyvels E (2022). Sample from: MICA"
               " - Muskrat and coypu camera trap observations in Belgium, the Netherlands and"
               " Germany. Version 1.0.2. Research Institute for Nature and Forest (INBO)."
               " https://camtrap-dp.tdwg.org/example/")


def dataset() -> dict:
    """Keyword arguments for catalog.service.create_dataset."""
    return {
        "slug": SLUG, "owner": OWNER, "domain": "wildlife",
        "title": {"en": "Camtrap DP example: MICA muskrat and coypu camera traps (real data)",
                  "zh": "Camtrap DP 示例：MICA 麝鼠与海狸鼠红外相机监测（真实数据）",
                  "ru": "Пример Camtrap DP: фотоловушки MICA, ондатра и нутрия (реальные "
                        "данные)"},
        "description": {"en": "The Camera Trap Data Package example published by TDWG: a sample"
                              " of INBO's MICA camera-trap observations at four sites in"
                              " Flanders, Belgium, imported unchanged through the Camtrap DP"
                              " importer.",
                        "zh": "TDWG 发布的红外相机数据包（Camtrap DP）示例：比利时自然与森林"
                              "研究所（INBO）MICA 项目在比利时弗拉芒大区四个地点的部分红外相机"
                              "观测记录，经 Camtrap DP 导入器原样导入。",
                        "ru": "Пример пакета данных фотоловушек (Camtrap DP), опубликованный TDWG:"
                              " выборка наблюдений фотоловушек проекта MICA института INBO в"
                              " четырёх точках Фландрии (Бельгия), импортированная без изменений"
                              " через импортёр Camtrap DP."},
        "licence": "CC0-1.0", "attribution": ATTRIBUTION, "visibility": "public",
        "keywords": ["camera trap", "Camtrap DP", "example"],
    }


def load(store) -> None:
    from ecobridge.biodiversity.camtrap import import_camtrap_dp
    from ecobridge.catalog.service import create_dataset
    from ecobridge.governance.policy import SYSTEM

    create_dataset(store, is_demo=True, **dataset())
    import_camtrap_dp(store, FOLDER, dataset=SLUG, principal=SYSTEM,
                      occurrence_properties={"demo": True})
