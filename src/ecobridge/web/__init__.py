"""The web application: server-rendered pages in Chinese, Russian and English."""


def routers() -> list:
    """Every page router, in one place, for api/app.py."""
    from ecobridge.web import (
        alert_pages,
        catalog_pages,
        maps,
        org_pages,
        pages,
        signin,
        station_pages,
    )

    return [pages.router, maps.router, catalog_pages.router, station_pages.router,
            alert_pages.router, org_pages.router, signin.router]
