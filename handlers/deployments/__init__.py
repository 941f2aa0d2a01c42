"""Deployments: what runs where (registry), fed by GitLab webhooks and `chatops deployments record`,
and the git mirror that answers which deployed revisions contain a commit."""
