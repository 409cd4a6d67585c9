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
    "description": "Ensemble's own endpoints under /api/v1. The MLflow-compatible API is described in docs/API.md."
  },
  "paths": {
    "/api/v1/datasets": {
      "get": {
        "summary": "Dataset names logged by runs, with their number of versions",
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
        "summary": "Versions (digests) of one dataset, newest first, with the runs that used each",
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
            "description": "No run logged a dataset of that name",
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
        "description": "Give exactly one starting point: model+version, logged_model, run, or dataset+digest. The graph reaches the source run, its code version (git commit or source name), the dataset versions it used, and the other runs and models that used the same data.",
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
            }
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
                "versions"
              ],
              "properties": {
                "name": {
                  "type": "string"
                },
                "versions": {
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
      }
    }
  }
}

"""#
}
