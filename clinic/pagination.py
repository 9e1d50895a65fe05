"""Pages of API lists, with limits and offsets the database can always take."""

from rest_framework.pagination import LimitOffsetPagination

# No list is longer than this in one answer; a larger ?limit= gets this many (DRF's usual cap).
MAX_PAGE_SIZE = 1000


class ClinicPagination(LimitOffsetPagination):
    """Limit/offset pages; a huge ?limit= or ?offset= is capped instead of overflowing the database.

    Without a cap, `?limit=10**30` reached PostgreSQL as a LIMIT beyond bigint ("bigint out of
    range", a 500). An offset past the end of any list gives the same empty page it always did.
    """

    max_limit = MAX_PAGE_SIZE
    # Large enough that no list reaches it, small enough that offset + limit fits a signed 64-bit integer.
    max_offset = 2**62

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)
