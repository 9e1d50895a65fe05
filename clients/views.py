"""Staff pages of the clients layer."""

from django.shortcuts import render

from clients.selectors import clients_matching
from clinic.permissions import staff_required


@staff_required
def client_list(request):
    """List the clinic's clients, narrowed by ?q= over name, email and phone."""
    query = request.GET.get("q", "").strip()
    clients = clients_matching(clinic=request.staff_member.clinic, query=query)[:100]
    return render(request, "clients/client_list.html", {"clients": clients, "query": query})
