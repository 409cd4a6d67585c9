/// The OpenAPI 3 description of the native API, served at `/api/v1/openapi.json`.
///
/// - Important: `docs/openapi.json` is the same text; a test keeps the two identical.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "Ensemble native API",
    "version": "0.1.0",
    "description": "Ensemble's own endpoints under /api/v1: datasets and stored dataset versions, lineage, model history, and the team and its work (roles, people, projects, portfolio, staffing, coverage, forecasts, updates). The MLflow-compatible API is described in docs/API.md."
  },
  "paths": {
    "/api/v1/datasets": {
      "get": {
        "summary": "Dataset names: logged by runs and stored with 'ensemble dataset add', with their numbers of versions",
        "responses": {
          "200": {
            "description": "Dataset names",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/DatasetList"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/datasets/{name}/versions": {
      "get": {
        "summary": "Versions of one dataset: digests logged by runs (with the runs that used each) and stored versions, newest first",
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Versions",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/DatasetVersions"
                }
              }
            }
          },
          "404": {
            "description": "No run logged a dataset of that name and no version of it is stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "post": {
        "summary": "Record a stored (content-addressed) dataset version from a file manifest",
        "description": "Every file's content must already be stored under /api/v1/blobs/{sha256} with the listed size. If the latest version of the name has exactly these files, that version is returned with created=false (200); otherwise the next version number is created (201).",
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/NewStoredDatasetVersion"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The latest version already had this manifest",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/StoredDatasetVersionAnswer"
                }
              }
            }
          },
          "201": {
            "description": "A new version",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/StoredDatasetVersionAnswer"
                }
              }
            }
          },
          "400": {
            "description": "Invalid name, path, hash or size, duplicate or clashing paths, or content not uploaded",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/models/{name}/history": {
      "get": {
        "summary": "Append-only history of a registered model: versions created and deleted, alias and stage changes",
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Events, oldest first",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ModelHistory"
                }
              }
            }
          },
          "404": {
            "description": "No such registered model",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/openapi.json": {
      "get": {
        "summary": "This document",
        "responses": {
          "200": {
            "description": "OpenAPI 3 document"
          }
        }
      }
    },
    "/api/v1/lineage": {
      "get": {
        "summary": "The lineage graph around a model version, logged model, run or dataset version",
        "description": "Give exactly one starting point: model+version, model+alias, logged_model, run, dataset+digest (a digest logged by runs), or dataset+version (a stored version). The graph reaches the source run, its code version (git commit or source name), the dataset versions it used (with stored_version, files and total_size when Ensemble stores them), and the other runs and models that used the same data.",
        "parameters": [
          {
            "name": "model",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "registered model name (with version)"
          },
          {
            "name": "version",
            "in": "query",
            "schema": {
              "type": "integer"
            },
            "description": "model version number (with model), or stored dataset version (with dataset)"
          },
          {
            "name": "alias",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "model alias (with model), e.g. champion"
          },
          {
            "name": "logged_model",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "logged model id (m-...)"
          },
          {
            "name": "run",
            "in": "query",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "dataset",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "dataset name (with digest)"
          },
          {
            "name": "digest",
            "in": "query",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "format",
            "in": "query",
            "schema": {
              "type": "string",
              "enum": [
                "json",
                "dot"
              ],
              "default": "json"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The graph as JSON, or Graphviz DOT text with format=dot",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Lineage"
                }
              },
              "text/vnd.graphviz": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "400": {
            "description": "No or an unclear starting point",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The starting point does not exist",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/datasets/{name}/versions/{version}": {
      "get": {
        "summary": "A stored dataset version with its file manifest",
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "version",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "a version number, or 'latest'"
          }
        ],
        "responses": {
          "200": {
            "description": "The version",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/StoredDatasetVersionAnswer"
                }
              }
            }
          },
          "400": {
            "description": "The version is not a positive number or 'latest'",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such dataset or version",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/blobs/missing": {
      "post": {
        "summary": "Which of these contents the server does not store yet",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "sha256"
                ],
                "properties": {
                  "sha256": {
                    "type": "array",
                    "items": {
                      "type": "string",
                      "pattern": "^[0-9a-f]{64}$"
                    }
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The missing ones, in the order asked",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "missing": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  }
                }
              }
            }
          },
          "400": {
            "description": "A value is not a SHA-256",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/blobs/{sha256}": {
      "put": {
        "summary": "Store a file's content under its SHA-256",
        "description": "The body is the raw bytes. The server hashes them while writing and publishes the blob only if the hash equals the name; content already stored is not written again.",
        "parameters": [
          {
            "name": "sha256",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "pattern": "^[0-9a-f]{64}$"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Already stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BlobAnswer"
                }
              }
            }
          },
          "201": {
            "description": "Stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BlobAnswer"
                }
              }
            }
          },
          "400": {
            "description": "The bytes do not match the SHA-256, or the name is not a SHA-256, or the file is over the size limit",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "get": {
        "summary": "Download stored content",
        "parameters": [
          {
            "name": "sha256",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "pattern": "^[0-9a-f]{64}$"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The bytes",
            "content": {
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "404": {
            "description": "Not stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "head": {
        "summary": "Whether content is stored, and its size (Content-Length)",
        "parameters": [
          {
            "name": "sha256",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "pattern": "^[0-9a-f]{64}$"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Stored"
          },
          "404": {
            "description": "Not stored"
          }
        }
      }
    },
    "/api/v1/roles": {
      "get": {
        "summary": "The role catalog: built-in roles (as edited) and the team's own",
        "responses": {
          "200": {
            "description": "Roles",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "roles": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Role"
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/roles/{id}": {
      "put": {
        "summary": "Create or edit a role",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Role"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The role",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Role"
                }
              }
            }
          },
          "400": {
            "description": "Invalid role",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "delete": {
        "summary": "Delete a custom role (refused while held) or restore a built-in one",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Done",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "400": {
            "description": "Still held",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such role",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/people": {
      "get": {
        "summary": "Everyone, with success rate and free capacity",
        "responses": {
          "200": {
            "description": "People",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "people": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Person"
                      }
                    }
                  }
                }
              }
            }
          }
        }
      },
      "post": {
        "summary": "Add a person",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Person"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Person"
                }
              }
            }
          },
          "400": {
            "description": "A field is invalid (the message names it) or the id or e-mail is taken",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/people/import": {
      "post": {
        "summary": "Create or replace many people in one transaction (all or nothing)",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "people": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Person"
                    }
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Count",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "imported": {
                      "type": "integer"
                    }
                  }
                }
              }
            }
          },
          "400": {
            "description": "Some person is invalid; nothing was imported",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/people/{id}": {
      "get": {
        "summary": "One person",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Person",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Person"
                }
              }
            }
          },
          "404": {
            "description": "No such person",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "put": {
        "summary": "Replace a person",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Person"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Person",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Person"
                }
              }
            }
          },
          "400": {
            "description": "Invalid",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such person",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "delete": {
        "summary": "Remove a person",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Done",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "404": {
            "description": "No such person",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects": {
      "get": {
        "summary": "Projects, optionally of one stage",
        "parameters": [
          {
            "name": "stage",
            "in": "query",
            "schema": {
              "$ref": "#/components/schemas/Stage"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Projects",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "projects": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Project"
                      }
                    }
                  }
                }
              }
            }
          },
          "400": {
            "description": "Unknown stage",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "post": {
        "summary": "Create a project (only name is required)",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Project"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Project"
                }
              }
            }
          },
          "400": {
            "description": "A field is invalid or the id is taken",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}": {
      "get": {
        "summary": "One project",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Project"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "put": {
        "summary": "Replace a project's document (stage and history change only through /stage)",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Project"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Project"
                }
              }
            }
          },
          "400": {
            "description": "Invalid",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "delete": {
        "summary": "Delete a project",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Done",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}/stage": {
      "post": {
        "summary": "Move a project through its stage gate; records who, when and why",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "to"
                ],
                "properties": {
                  "to": {
                    "$ref": "#/components/schemas/Stage"
                  },
                  "why": {
                    "type": "string"
                  },
                  "by": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The moved project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Project"
                }
              }
            }
          },
          "400": {
            "description": "The gate refuses; the message lists every reason",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}/staffing": {
      "get": {
        "summary": "People ranked for a stage, with reasons",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "stage",
            "in": "query",
            "schema": {
              "$ref": "#/components/schemas/Stage"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Candidates",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "400": {
            "description": "Not a working stage",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}/forecast": {
      "get": {
        "summary": "Monte Carlo finish forecast: P50/P80/P95 days and dates, histogram, criticality",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "trials",
            "in": "query",
            "schema": {
              "type": "integer",
              "default": 10000
            }
          },
          {
            "name": "seed",
            "in": "query",
            "schema": {
              "type": "integer",
              "default": 0
            }
          },
          {
            "name": "distribution",
            "in": "query",
            "schema": {
              "type": "string",
              "enum": [
                "pert",
                "triangular"
              ],
              "default": "pert"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Forecast",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "400": {
            "description": "No tasks, invalid estimates or dependencies, or bad parameters",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}/updates": {
      "get": {
        "summary": "The project's activity feed",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "max_results",
            "in": "query",
            "schema": {
              "type": "integer",
              "default": 50
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Activity",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Activity"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "post": {
        "summary": "Post a stand-up update",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "author"
                ],
                "properties": {
                  "author": {
                    "type": "string"
                  },
                  "done": {
                    "type": "string"
                  },
                  "next": {
                    "type": "string"
                  },
                  "blocked": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "The update",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "400": {
            "description": "No author, or empty",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/projects/{id}/progress": {
      "get": {
        "summary": "Runs started per week in the linked experiments",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Weeks",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "404": {
            "description": "No such project",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/portfolio": {
      "get": {
        "summary": "Active projects ranked by weighted score, with capacity fit and notes",
        "parameters": [
          {
            "name": "impact",
            "in": "query",
            "schema": {
              "type": "number"
            },
            "description": "weight of impact"
          },
          {
            "name": "cost",
            "in": "query",
            "schema": {
              "type": "number"
            },
            "description": "weight of cost"
          },
          {
            "name": "bandwidth",
            "in": "query",
            "schema": {
              "type": "number"
            },
            "description": "weight of bandwidth"
          },
          {
            "name": "urgency",
            "in": "query",
            "schema": {
              "type": "number"
            },
            "description": "weight of urgency"
          },
          {
            "name": "confidence",
            "in": "query",
            "schema": {
              "type": "number"
            },
            "description": "weight of confidence"
          }
        ],
        "responses": {
          "200": {
            "description": "Portfolio",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "400": {
            "description": "Invalid weights",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/coverage": {
      "get": {
        "summary": "Stages and skills with nobody or one person; roles nobody holds",
        "responses": {
          "200": {
            "description": "Coverage",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/updates": {
      "get": {
        "summary": "The team's activity feed",
        "parameters": [
          {
            "name": "max_results",
            "in": "query",
            "schema": {
              "type": "integer",
              "default": 50
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Activity",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Activity"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error_code",
          "message"
        ],
        "properties": {
          "error_code": {
            "type": "string"
          },
          "message": {
            "type": "string"
          }
        }
      },
      "DatasetList": {
        "type": "object",
        "properties": {
          "datasets": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "name",
                "versions",
                "stored_versions"
              ],
              "properties": {
                "name": {
                  "type": "string"
                },
                "versions": {
                  "type": "integer",
                  "description": "digests logged by runs"
                },
                "stored_versions": {
                  "type": "integer",
                  "description": "versions added with ensemble dataset add"
                },
                "latest_stored_version": {
                  "type": "integer"
                }
              }
            }
          }
        }
      },
      "DatasetVersions": {
        "type": "object",
        "properties": {
          "versions": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "name",
                "digest",
                "experiment_id",
                "source_type",
                "source",
                "used_by"
              ],
              "properties": {
                "name": {
                  "type": "string"
                },
                "digest": {
                  "type": "string"
                },
                "experiment_id": {
                  "type": "string"
                },
                "source_type": {
                  "type": "string"
                },
                "source": {
                  "type": "string"
                },
                "schema": {
                  "type": "string"
                },
                "profile": {
                  "type": "string"
                },
                "used_by": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "required": [
                      "run_id",
                      "run_name"
                    ],
                    "properties": {
                      "run_id": {
                        "type": "string"
                      },
                      "run_name": {
                        "type": "string"
                      },
                      "context": {
                        "type": "string"
                      }
                    }
                  }
                }
              }
            }
          },
          "stored_versions": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/StoredDatasetVersion"
            }
          }
        }
      },
      "ModelHistory": {
        "type": "object",
        "properties": {
          "events": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "model",
                "kind",
                "detail",
                "timestamp"
              ],
              "properties": {
                "model": {
                  "type": "string"
                },
                "version": {
                  "type": "string"
                },
                "kind": {
                  "type": "string",
                  "enum": [
                    "version_created",
                    "version_deleted",
                    "alias_set",
                    "alias_deleted",
                    "stage_changed"
                  ]
                },
                "detail": {
                  "type": "string"
                },
                "actor": {
                  "type": "string"
                },
                "timestamp": {
                  "type": "integer",
                  "description": "epoch milliseconds"
                }
              }
            }
          }
        }
      },
      "Lineage": {
        "type": "object",
        "required": [
          "nodes",
          "edges"
        ],
        "properties": {
          "nodes": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "id",
                "kind",
                "label",
                "attributes"
              ],
              "properties": {
                "id": {
                  "type": "string",
                  "example": "run:0f21..."
                },
                "kind": {
                  "type": "string",
                  "enum": [
                    "model_version",
                    "logged_model",
                    "run",
                    "code",
                    "dataset"
                  ]
                },
                "label": {
                  "type": "string"
                },
                "attributes": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "properties": {
                      "key": {
                        "type": "string"
                      },
                      "value": {
                        "type": "string"
                      }
                    }
                  }
                }
              }
            }
          },
          "edges": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "from",
                "to",
                "relation"
              ],
              "properties": {
                "from": {
                  "type": "string"
                },
                "to": {
                  "type": "string"
                },
                "relation": {
                  "type": "string",
                  "enum": [
                    "registered_from",
                    "produced_by",
                    "code_version",
                    "trained_on",
                    "evaluated_on",
                    "used"
                  ]
                }
              }
            }
          }
        }
      },
      "DatasetFile": {
        "type": "object",
        "required": [
          "path",
          "size",
          "sha256"
        ],
        "properties": {
          "path": {
            "type": "string",
            "description": "relative POSIX path; no empty, '.' or '..' segments, backslashes or control characters"
          },
          "size": {
            "type": "integer"
          },
          "sha256": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
          }
        }
      },
      "StoredDatasetVersion": {
        "type": "object",
        "required": [
          "name",
          "version",
          "digest",
          "file_count",
          "total_size",
          "created_at"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "version": {
            "type": "integer"
          },
          "digest": {
            "type": "string",
            "description": "SHA-256 over the manifest; its first 32 characters are the digest to log with MLflow"
          },
          "description": {
            "type": "string"
          },
          "file_count": {
            "type": "integer"
          },
          "total_size": {
            "type": "integer"
          },
          "created_at": {
            "type": "integer",
            "description": "epoch milliseconds"
          },
          "created_by": {
            "type": "string"
          },
          "files": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/DatasetFile"
            },
            "description": "present on single-version answers"
          }
        }
      },
      "StoredDatasetVersionAnswer": {
        "type": "object",
        "properties": {
          "version": {
            "$ref": "#/components/schemas/StoredDatasetVersion"
          },
          "created": {
            "type": "boolean"
          }
        }
      },
      "NewStoredDatasetVersion": {
        "type": "object",
        "required": [
          "files"
        ],
        "properties": {
          "files": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/DatasetFile"
            }
          },
          "description": {
            "type": "string"
          },
          "created_by": {
            "type": "string"
          }
        }
      },
      "BlobAnswer": {
        "type": "object",
        "properties": {
          "sha256": {
            "type": "string"
          },
          "size": {
            "type": "integer"
          },
          "created": {
            "type": "boolean"
          }
        }
      },
      "Role": {
        "type": "object",
        "required": [
          "id",
          "name"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "summary": {
            "type": "string"
          },
          "skills": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "responsibilities": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "tools": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "leads": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Stage"
            }
          },
          "supports": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Stage"
            }
          },
          "built_in": {
            "type": "boolean"
          }
        }
      },
      "Stage": {
        "type": "string",
        "enum": [
          "scoping",
          "data",
          "modeling",
          "deployment",
          "monitoring",
          "done",
          "cancelled"
        ]
      },
      "Person": {
        "type": "object",
        "required": [
          "name",
          "email"
        ],
        "properties": {
          "id": {
            "type": "string",
            "description": "slug; defaults to the e-mail's local part"
          },
          "name": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "roles": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "skills": {
            "type": "object",
            "additionalProperties": {
              "type": "integer",
              "minimum": 1,
              "maximum": 5
            }
          },
          "expertise": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "learning_goals": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "capacity": {
            "type": "number",
            "minimum": 0,
            "maximum": 1
          },
          "assignments": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "project": {
                  "type": "string"
                },
                "allocation": {
                  "type": "number"
                }
              }
            }
          },
          "history": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "project": {
                  "type": "string"
                },
                "outcome": {
                  "type": "string",
                  "enum": [
                    "delivered",
                    "partial",
                    "cancelled",
                    "failed"
                  ]
                },
                "areas": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                }
              }
            }
          },
          "success_rate": {
            "type": "number",
            "nullable": true,
            "readOnly": true
          },
          "free_capacity": {
            "type": "number",
            "readOnly": true
          },
          "allocated": {
            "type": "number",
            "readOnly": true
          }
        }
      },
      "Metric": {
        "type": "object",
        "required": [
          "name"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "baseline": {
            "type": "number"
          },
          "target": {
            "type": "number"
          },
          "unit": {
            "type": "string"
          },
          "higher_is_better": {
            "type": "boolean",
            "default": true
          }
        }
      },
      "Task": {
        "type": "object",
        "required": [
          "id",
          "optimistic",
          "likely",
          "pessimistic"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "optimistic": {
            "type": "number"
          },
          "likely": {
            "type": "number"
          },
          "pessimistic": {
            "type": "number"
          },
          "depends_on": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "Project": {
        "type": "object",
        "required": [
          "name"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "stage": {
            "$ref": "#/components/schemas/Stage"
          },
          "brd": {
            "type": "object"
          },
          "technical_metrics": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Metric"
            }
          },
          "business_metrics": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Metric"
            }
          },
          "owners": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "checklists": {
            "type": "object",
            "additionalProperties": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "text": {
                    "type": "string"
                  },
                  "done": {
                    "type": "boolean"
                  }
                }
              }
            }
          },
          "needed_skills": {
            "type": "object",
            "additionalProperties": {
              "type": "object",
              "additionalProperties": {
                "type": "integer"
              }
            }
          },
          "areas": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "scores": {
            "type": "object",
            "properties": {
              "impact": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5
              },
              "cost": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5
              },
              "bandwidth": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5
              },
              "urgency": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5
              },
              "confidence": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5
              }
            }
          },
          "required_fte": {
            "type": "number"
          },
          "experiments": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "models": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "datasets": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "tasks": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Task"
            }
          },
          "start_date": {
            "type": "string",
            "format": "date"
          },
          "history": {
            "type": "array",
            "readOnly": true,
            "items": {
              "type": "object",
              "properties": {
                "from": {
                  "type": "string"
                },
                "to": {
                  "type": "string"
                },
                "by": {
                  "type": "string"
                },
                "at": {
                  "type": "integer"
                },
                "why": {
                  "type": "string"
                }
              }
            }
          }
        }
      },
      "Activity": {
        "type": "object",
        "properties": {
          "activity": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "at": {
                  "type": "integer"
                },
                "project": {
                  "type": "string"
                },
                "kind": {
                  "type": "string"
                },
                "summary": {
                  "type": "string"
                },
                "actor": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    }
  }
}

"""#
}
